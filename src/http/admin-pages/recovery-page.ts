/**
 * The recovery funnel page: for each card problem (expired, expiring, failed payment), how many readers
 * went from detected to notice sent, link opened, portal session, card updated and access restored, with
 * the conversion at each step and the median time to restore; over the whole range and per day (the day
 * a problem was detected). The charts are SVG the server draws from numbers: no script, nothing loaded.
 */
import { escapeHtml } from '../../domain/notice-templates.js';
import { CARD_PROBLEMS, FUNNEL_STEPS, median, type CardProblem, type FunnelDay, type FunnelStep } from '../../store/recovery-funnel.js';
import { html, trusted, type Markup } from './layout.js';

const DAY_MS = 86_400_000;

const PROBLEM_WORDS: Record<CardProblem, string> = { expired: 'Expired card', expiring: 'Card expiring', failed_payment: 'Failed payment' };
const STEP_WORDS: Record<FunnelStep, string> = {
  detected: 'Detected',
  notice_sent: 'Notice sent',
  link_opened: 'Link opened',
  portal_session: 'Portal session',
  card_updated: 'Card updated',
  restored: 'Access restored',
};
const COLOURS: Record<CardProblem, string> = { expired: '#b91c1c', expiring: '#b45309', failed_payment: '#1d4ed8' };

/** The UTC days of the range ending today, oldest first; null when `days` is not 1..90. */
export function recoveryDays(now: number, daysParam: unknown): string[] | null {
  let count = 14;
  if (daysParam !== undefined) {
    if (typeof daysParam !== 'string' || !/^\d{1,2}$/.test(daysParam)) return null;
    count = Number(daysParam);
    if (count < 1 || count > 90) return null;
  }
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return Array.from({ length: count }, (_, i) => new Date(today - (count - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

export interface FunnelTotals {
  problem: CardProblem;
  counts: Record<FunnelStep, number>;
  medianRestoreMs: number | null;
}

export function totalsOf(figures: readonly FunnelDay[]): FunnelTotals[] {
  return CARD_PROBLEMS.map((problem) => {
    const mine = figures.filter((f) => f.problem === problem);
    const counts = Object.fromEntries(FUNNEL_STEPS.map((step) => [step, mine.reduce((sum, f) => sum + f.counts[step], 0)])) as Record<FunnelStep, number>;
    return { problem, counts, medianRestoreMs: median(mine.flatMap((f) => f.restoreMs)) };
  });
}

const percent = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : '—');

export function durationInWords(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < DAY_MS) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / DAY_MS).toFixed(1)} days`;
}

/** Horizontal bars, one block per problem, one bar per step, widths relative to that problem's detections. */
function funnelChart(totals: readonly FunnelTotals[]): Markup {
  const barH = 16;
  const labelW = 130;
  const plotW = 360;
  const blockH = FUNNEL_STEPS.length * (barH + 4) + 26;
  const height = totals.length * blockH + 10;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 120}" height="${height}" role="img" aria-label="Recovery funnel by problem">`];
  totals.forEach((t, block) => {
    const top = block * blockH + 18;
    const base = Math.max(1, t.counts.detected);
    parts.push(`<text x="4" y="${top - 4}" font-size="13" font-weight="bold">${escapeHtml(PROBLEM_WORDS[t.problem])}</text>`);
    FUNNEL_STEPS.forEach((step, i) => {
      const y = top + i * (barH + 4);
      const n = t.counts[step];
      const w = Math.round((Math.min(n, base) / base) * plotW);
      parts.push(
        `<text x="4" y="${y + barH - 4}" font-size="11">${escapeHtml(STEP_WORDS[step])}</text>`,
        `<rect x="${labelW}" y="${y}" width="${plotW}" height="${barH}" fill="#f3f4f6"/>`,
        `<rect x="${labelW}" y="${y}" width="${w}" height="${barH}" fill="${COLOURS[t.problem]}" data-step="${step}" data-count="${n}"/>`,
        `<text x="${labelW + plotW + 6}" y="${y + barH - 4}" font-size="11">${n} (${escapeHtml(percent(n, t.counts.detected))})</text>`,
      );
    });
  });
  parts.push('</svg>');
  return trusted(parts.join(''));
}

/** Per day: detected (light) and restored (dark) columns for all problems together. */
function dailyChart(days: readonly string[], figures: readonly FunnelDay[]): Markup {
  const colW = 28;
  const plotH = 140;
  const left = 34;
  const width = left + days.length * colW + 10;
  const byDay = days.map((day) => {
    const mine = figures.filter((f) => f.day === day);
    return { day, detected: mine.reduce((s, f) => s + f.counts.detected, 0), restored: mine.reduce((s, f) => s + f.counts.restored, 0) };
  });
  const max = Math.max(1, ...byDay.map((d) => d.detected));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${plotH + 50}" role="img" aria-label="Detected and restored per day">`];
  parts.push(`<text x="2" y="12" font-size="10">${max}</text><text x="2" y="${plotH + 10}" font-size="10">0</text>`);
  byDay.forEach((d, i) => {
    const x = left + i * colW;
    const hDetected = Math.round((d.detected / max) * plotH);
    const hRestored = Math.round((d.restored / max) * plotH);
    parts.push(
      `<rect x="${x}" y="${plotH + 10 - hDetected}" width="${colW - 8}" height="${hDetected}" fill="#fca5a5" data-day="${d.day}" data-detected="${d.detected}"/>`,
      `<rect x="${x + 4}" y="${plotH + 10 - hRestored}" width="${colW - 16}" height="${hRestored}" fill="#166534" data-restored="${d.restored}"/>`,
      `<text x="${x}" y="${plotH + 24}" font-size="9">${escapeHtml(d.day.slice(5))}</text>`,
    );
  });
  parts.push(
    `<rect x="${left}" y="${plotH + 32}" width="10" height="10" fill="#fca5a5"/><text x="${left + 14}" y="${plotH + 41}" font-size="10">detected</text>`,
    `<rect x="${left + 80}" y="${plotH + 32}" width="10" height="10" fill="#166534"/><text x="${left + 94}" y="${plotH + 41}" font-size="10">access restored</text>`,
    '</svg>',
  );
  return trusted(parts.join(''));
}

export function recoveryPageBody(days: readonly string[], figures: readonly FunnelDay[]): Markup {
  const totals = totalsOf(figures);
  const header = html`<tr><th>Problem</th>${FUNNEL_STEPS.map((s) => html`<th>${STEP_WORDS[s]}</th>`)}<th>Median time to restore</th></tr>`;
  const row = (label: Markup | string, counts: Record<FunnelStep, number>, medianMs: number | null, attrs: string) =>
    html`<tr ${trusted(attrs)}><td>${label}</td>${FUNNEL_STEPS.map((step, i) => {
      const previous = i === 0 ? null : counts[FUNNEL_STEPS[i - 1]!];
      return html`<td data-step="${step}">${counts[step]}${previous === null ? '' : html` <span class="muted">(${percent(counts[step], previous)})</span>`}</td>`;
    })}<td data-median>${durationInWords(medianMs)}</td></tr>`;
  const dayRows = [...days]
    .reverse()
    .flatMap((day) => figures.filter((f) => f.day === day && f.counts.detected + f.counts.restored > 0))
    .map((f) => row(html`${f.day} ${PROBLEM_WORDS[f.problem]}`, f.counts, f.medianRestoreMs, `data-day="${escapeHtml(f.day)}" data-problem="${f.problem}"`));
  return html`<p class="muted">${days[0]} to ${days[days.length - 1]} (UTC), by the day a problem was detected. Each step counts once per reader per problem; in brackets, the share of the step before. <a href="/admin/recovery?days=30">30 days</a> · <a href="/admin/recovery?days=90">90 days</a></p>
<h2>Over the range</h2>
<table id="funnel-totals">${header}${totals.map((t) => row(PROBLEM_WORDS[t.problem], t.counts, t.medianRestoreMs, `data-problem="${t.problem}"`))}</table>
<p>${funnelChart(totals)}</p>
<h2>Per day</h2>
<p>${dailyChart(days, figures)}</p>
${dayRows.length > 0 ? html`<table id="funnel-days">${header}${dayRows}</table>` : html`<p class="muted">No card problem detected in this range.</p>`}`;
}
