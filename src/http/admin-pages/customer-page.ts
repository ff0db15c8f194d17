/**
 * A reader's story on one page: the current answer (per feature when the answer carries features) and
 * why in words, what subgate holds of the customer (e-mail masked), and the timeline newest first. Nothing
 * on it lets the operator act as the reader: no update-card link, no token, no full address.
 */
import type { CustomerProjection, Entitlement } from '../../domain/projection.js';
import { answerInWords, cardInWords } from '../../domain/story-words.js';
import { maskEmail } from '../../domain/mask-email.js';
import type { TimelineEntry } from '../../store/customer-timeline.js';
import { html, when, type Markup } from './layout.js';

interface FeatureAnswer {
  feature: string;
  entitled: boolean;
  status: string;
  reason: string;
}

/** The answer's per-feature verdicts, when it carries them (as a map or a list); else null. */
export function featuresOf(entitlement: object): FeatureAnswer[] | null {
  const features = (entitlement as { features?: unknown }).features;
  if (typeof features !== 'object' || features === null) return null;
  const entries: Array<[string, unknown]> = Array.isArray(features)
    ? features.map((f, i) => [String((f as { feature?: unknown; key?: unknown; name?: unknown }).feature ?? (f as { key?: unknown }).key ?? (f as { name?: unknown }).name ?? i), f])
    : Object.entries(features);
  const out: FeatureAnswer[] = [];
  for (const [feature, value] of entries) {
    if (typeof value === 'boolean') out.push({ feature, entitled: value, status: value ? 'granted' : 'not granted', reason: '' });
    else if (typeof value === 'object' && value !== null) {
      const v = value as { entitled?: unknown; status?: unknown; reason?: unknown };
      out.push({ feature, entitled: v.entitled === true, status: String(v.status ?? ''), reason: String(v.reason ?? '') });
    }
  }
  return out.length > 0 ? out : null;
}

function fieldsMarkup(fields: TimelineEntry['fields']): Markup {
  const pairs = Object.entries(fields).filter(([, v]) => v !== null && v !== '');
  return html`${pairs.map(([k, v]) => html`<div><span class="muted">${k}</span> <code>${String(v)}</code></div>`)}`;
}

export function customerPageBody(input: {
  customerId: string;
  projection: CustomerProjection;
  entitlement: Entitlement;
  timeline: TimelineEntry[];
  csrf: string | null;
}): Markup {
  const { projection, entitlement } = input;
  const features = featuresOf(entitlement);
  const subscriptions = projection.subscriptions.map(
    (s) => html`<tr><td><code>${s.id}</code></td><td>${s.status}</td><td>${when(s.current_period_end)}</td><td>${s.cancel_at_period_end ? 'yes' : 'no'}</td><td>${cardInWords(s.card)}</td><td>${when(s.past_due_since)}</td></tr>`,
  );
  const marks = (projection.expiry_marks ?? []).map(
    (m) => html`<tr><td><code>${m.card}</code> ${String(m.exp_month).padStart(2, '0')}/${m.exp_year}</td><td>${when(m.flagged_at)} ${m.flag_source ?? ''}</td><td>${when(m.honoured_at)}</td></tr>`,
  );
  const rows = input.timeline.map(
    (e) => html`<tr data-kind="${e.kind}"><td>${when(e.at)}</td><td>${e.kind.replace(/_/g, ' ')}</td><td>${e.text}</td><td>${fieldsMarkup(e.fields)}</td></tr>`,
  );
  return html`<section>
<h2>Answer now</h2>
<p class="answer ${entitlement.entitled ? 'ok' : 'bad'}" data-answer="${entitlement.status}">${answerInWords(entitlement)}</p>
<p class="muted">status <code>${entitlement.status}</code>, reason <code>${entitlement.reason}</code></p>
${features
  ? html`<table><caption>Per feature</caption><tr><th>Feature</th><th>Access</th><th>Status</th><th>Reason</th></tr>
${features.map((f) => html`<tr><td>${f.feature}</td><td class="${f.entitled ? 'ok' : 'bad'}">${f.entitled ? 'yes' : 'no'}</td><td>${f.status}</td><td>${f.reason}</td></tr>`)}</table>`
  : ''}
${input.csrf !== null
  ? html`<form method="post" action="/admin/customers/${input.customerId}/refresh"><input type="hidden" name="csrf" value="${input.csrf}"><button type="submit">Refresh from Stripe now</button></form>`
  : ''}
</section>
<section>
<h2>What subgate holds</h2>
<table>
<tr><th>Customer</th><td><code>${projection.customer}</code>${projection.deleted ? ' (deleted in Stripe)' : ''}</td></tr>
<tr><th>User id</th><td>${projection.user ?? '—'}</td></tr>
<tr><th>E-mail</th><td>${maskEmail(projection.email) ?? '—'}</td></tr>
<tr><th>Default card</th><td>${cardInWords(projection.default_card)}</td></tr>
<tr><th>Read from Stripe</th><td>${when(projection.read_at)}</td></tr>
</table>
<table><caption>Subscriptions</caption><tr><th>Id</th><th>Status</th><th>Period ends</th><th>Cancels at end</th><th>Paid by</th><th>Past due since</th></tr>${subscriptions}</table>
${marks.length > 0 ? html`<table><caption>Card expiry marks</caption><tr><th>Card</th><th>Flagged</th><th>Honoured</th></tr>${marks}</table>` : ''}
</section>
<section>
<h2>Timeline</h2>
${rows.length > 0
  ? html`<table id="timeline"><tr><th>When (UTC)</th><th>What</th><th>Story</th><th>Details</th></tr>${rows}</table>`
  : html`<p class="muted">Nothing recorded yet.</p>`}
</section>`;
}
