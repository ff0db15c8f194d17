/**
 * Fuzzed webhooks against the real API process: ~5,000 seeded, mutated deliveries (see
 * test/support/webhook-fuzz.ts), some validly signed. Never a 5xx other than 503, the process stays up,
 * an invalid delivery is never accepted, and every valid event that got a 2xx is durable (its ledger
 * entry and its stripe-events job; no worker runs, so the job is still there to see).
 * FUZZ_SEED and FUZZ_CASES change the run; a failure prints the seed and each failing case.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_WEBHOOK_SECRET, putSubscribers, startFaultStack, type FaultStack } from '../support/fault-stack.js';
import { sendRaw, type Attempt } from '../support/webhook-flood.js';
import { createWebhookFuzzer, type FuzzCase } from '../support/webhook-fuzz.js';
import { recordFigures } from '../support/fault-report.js';
import type { SubgateProcess } from '../support/processes.js';

const SEED = Number(process.env.FUZZ_SEED ?? 9);
const CASES = Number(process.env.FUZZ_CASES ?? 5000);
const OLD_SECRET = 'whsec_faults_suite_previous_0001';

interface Violation {
  what: string;
  fuzz: FuzzCase;
  attempt: Attempt;
}

function judge(fuzz: FuzzCase, attempt: Attempt): string | null {
  const status = attempt.status;
  // No answer is a refusal (Stripe retries): wrong only for a valid event.
  if (status === undefined) return fuzz.expect === 'valid' ? `no answer (${attempt.error}) to a valid event` : null;
  if (status >= 500 && status !== 503) return `answered ${status}`;
  const ok = status >= 200 && status < 300;
  if (fuzz.expect === 'invalid' && ok) return `accepted (${status}) a delivery that must be refused`;
  if (fuzz.expect === 'valid' && !ok && status !== 503) return `refused (${status}) a valid event`;
  return null;
}

function describeCase(v: Violation): string {
  const body = Buffer.isBuffer(v.fuzz.delivery.body) ? `<${v.fuzz.delivery.body.length} bytes>` : v.fuzz.delivery.body.slice(0, 160);
  const headers = JSON.stringify(v.fuzz.delivery.headers, (_k, value) => (typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}…` : value));
  return `case ${v.fuzz.index} [${v.fuzz.kind}] ${v.fuzz.delivery.method ?? 'POST'} ${v.fuzz.delivery.path ?? '/webhooks/stripe'} ${headers} ${JSON.stringify(body)} -> ${v.attempt.status ?? v.attempt.error} ${v.attempt.body?.slice(0, 200) ?? ''}`;
}

describe('webhook fuzz', { timeout: 300_000 }, () => {
  let stack: FaultStack;
  let api: SubgateProcess;
  before(async () => {
    stack = await startFaultStack({ label: 'fuzz', env: { STRIPE_WEBHOOK_SECRET: `${FAULT_WEBHOOK_SECRET},${OLD_SECRET}` } });
    api = await stack.start('api');
  });
  after(() => stack.close());

  test(`${CASES} fuzzed deliveries (seed ${SEED}): no 5xx but 503, the API stays up, nothing invalid accepted, every 2xx durable`, async () => {
    const customers = putSubscribers(stack, 20);
    const buildCase = createWebhookFuzzer(
      { stripe: stack.stripe, secret: FAULT_WEBHOOK_SECRET, oldSecret: OLD_SECRET, customerIds: customers.map((c) => c.customerId) },
      SEED,
    );
    const cases = new Map<string, FuzzCase>();
    const flood = stack.flood(
      Array.from({ length: CASES }, (_, index) => ({
        id: `case-${index}`,
        delivery: () => {
          const fuzz = buildCase(index);
          cases.set(`case-${index}`, fuzz);
          return fuzz.delivery;
        },
      })),
      // A connection per case, so what one case does to its connection cannot be blamed on the next.
      { targets: () => [api.url], concurrency: 8, keepAlive: false, retry: false },
    );
    await flood.done;
    await flood.stop();

    const violations: Violation[] = [];
    const statuses = new Map<string, number>();
    let durableChecked = 0;
    for (const record of flood.records.values()) {
      const fuzz = cases.get(record.id)!;
      const attempt = record.attempts[0]!;
      const key = String(attempt.status ?? attempt.error);
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      const what = judge(fuzz, attempt);
      if (what) violations.push({ what, fuzz, attempt });
      const ok = attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300;
      if (ok && fuzz.eventId && fuzz.expect !== 'invalid') {
        durableChecked += 1;
        const durable = (await stack.ledger.has(fuzz.eventId)) && (await stack.queues.stripeEvents.getJob(fuzz.eventId)) !== undefined;
        if (!durable) violations.push({ what: 'acknowledged but not durable', fuzz, attempt });
      }
    }
    const healthz = await sendRaw(api.url, { method: 'GET', path: '/healthz', headers: {}, body: '' }, false);

    const lost = violations.filter((v) => v.what === 'acknowledged but not durable').length;
    recordFigures({
      scenario: `webhook fuzz (seed ${SEED})`,
      events: durableChecked,
      fuzzCases: CASES,
      lost,
      notes: {
        statuses: [...statuses].sort().map(([s, n]) => `${s}:${n}`).join(' '),
        violations: violations.length,
      },
    });

    // One line per kind of failure with its first case, so a failing run says what broke and how to replay it.
    const byClass = new Map<string, Violation[]>();
    for (const v of violations) {
      const cls = `${v.what} :: ${v.fuzz.kind}`;
      byClass.set(cls, [...(byClass.get(cls) ?? []), v]);
    }
    const report = [...byClass].map(([cls, list]) => `${list.length}x ${cls}\n    e.g. ${describeCase(list[0]!)}`).join('\n');
    assert.ok(api.running, `the API process died during the fuzz\n${api.tail()}`);
    assert.equal(healthz.status, 200, 'the API still answers after the fuzz');
    assert.equal(
      violations.length,
      0,
      `${violations.length} of ${CASES} fuzz cases broke a promise (FUZZ_SEED=${SEED} FUZZ_CASES=${CASES} to replay):\n${report}`,
    );
  });
});
