/**
 * What each fault scenario measured (events sent, kills, duplicates, fuzz cases, what was lost, recovery
 * times), appended as one JSON line to $FAULTS_REPORT so test/faults/run.ts can print one table at the
 * end of the run; also printed as a test diagnostic when a file runs on its own.
 */
import { appendFileSync } from 'node:fs';

export interface ScenarioFigures {
  scenario: string;
  events: number;
  kills?: number;
  duplicates?: number;
  fuzzCases?: number;
  /** Acknowledged events (or due notices) that were lost or doubled: the promise is that this is 0. */
  lost: number;
  /** Named durations in ms (recovery after a kill, time to a 503, drain time...). */
  timings?: Record<string, number>;
  /** Anything else worth a line in the table (counts, rates). */
  notes?: Record<string, number | string>;
}

export function recordFigures(figures: ScenarioFigures): void {
  const file = process.env.FAULTS_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(figures)}\n`);
  else console.log(`# figures ${JSON.stringify(figures)}`);
}

/** The summary table: one row per scenario. */
export function formatFigures(rows: readonly ScenarioFigures[]): string {
  const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
  const table = [
    ['scenario', 'events', 'kills', 'dupes', 'fuzz', 'lost', 'timings', 'notes'],
    ...rows.map((r) => [
      r.scenario,
      String(r.events),
      String(r.kills ?? 0),
      String(r.duplicates ?? 0),
      String(r.fuzzCases ?? 0),
      String(r.lost),
      Object.entries(r.timings ?? {})
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', '),
      Object.entries(r.notes ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(table[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.slice(1).map(line)].join('\n');
}
