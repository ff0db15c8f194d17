import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { answerInWords, projectionChanges, summaryInWords } from '../../src/domain/story-words.js';
import { decideEntitlement } from '../../src/domain/entitlement-policy.js';
import type { CustomerProjection } from '../../src/domain/projection.js';
import { featuresOf } from '../../src/http/admin-pages/customer-page.js';
import { CARD_PROBLEMS } from '../../src/store/recovery-funnel.js';
import { recoveryDays, totalsOf, durationInWords } from '../../src/http/admin-pages/recovery-page.js';

const card = (id: string, last4: string, exp_year = 2030) => ({ id, brand: 'visa', last4, exp_month: 4, exp_year });
const base: CustomerProjection = {
  customer: 'cus_1',
  user: 'u-1',
  email: 'reader@example.com',
  deleted: false,
  default_card: card('pm_a', '4242'),
  subscriptions: [{ id: 'sub_1', status: 'active', current_period_end: Date.UTC(2030, 0, 1), cancel_at_period_end: false, card: card('pm_a', '4242'), past_due_since: null, created: 1 }],
  read_at: 1,
};

describe('projectionChanges', () => {
  it('says nothing changed when nothing did', () => {
    assert.deepEqual(projectionChanges(base, { ...base, read_at: 2 }), []);
  });
  it('names status, card and address changes, the address masked', () => {
    const next: CustomerProjection = {
      ...base,
      email: 'other@example.com',
      default_card: card('pm_b', '0005', 2034),
      subscriptions: [{ ...base.subscriptions[0]!, status: 'past_due', card: card('pm_b', '0005', 2034) }],
    };
    const changes = projectionChanges(base, next);
    assert.ok(changes.includes('e-mail r***@example.com -> o***@example.com'), changes.join(' | '));
    assert.ok(changes.includes('sub_1 status active -> past_due'));
    assert.ok(changes.some((c) => c.startsWith('default card visa ·4242') && c.endsWith('visa ·0005 (expires 04/2034)')));
    assert.ok(!changes.join(' ').includes('reader@example.com'));
  });
  it('tells a first sighting, a new and a vanished subscription', () => {
    assert.match(projectionChanges(null, base)[0]!, /^first seen: sub_1 active/);
    const other = { ...base.subscriptions[0]!, id: 'sub_2' };
    assert.deepEqual(projectionChanges(base, { ...base, subscriptions: [other] }), ['new subscription sub_2 (active)', 'subscription sub_1 no longer listed']);
  });
});

describe('answerInWords', () => {
  it('explains an expired card, and a grace period with its end', () => {
    const expired = decideEntitlement({ ...base, subscriptions: [{ ...base.subscriptions[0]!, card: card('pm_a', '4242', 2020) }] }, Date.UTC(2026, 0, 1), { cardExpiredGraceDays: 0, pastDueGraceDays: 7 });
    assert.match(answerInWords(expired), /^No access: the card on file has expired .*paid by visa ·4242 \(expires 04\/2020\), expired\.$/);
    const grace = decideEntitlement({ ...base, subscriptions: [{ ...base.subscriptions[0]!, status: 'past_due', past_due_since: Date.UTC(2026, 0, 1) }] }, Date.UTC(2026, 0, 2), { cardExpiredGraceDays: 0, pastDueGraceDays: 7 });
    assert.match(answerInWords(grace), /^Has access: the last renewal payment failed.*Access ends 2026-01-08T00:00:00\.000Z unless it is fixed\./);
  });
  it('summarises a published change', () => {
    assert.equal(summaryInWords(null), 'nothing published');
    assert.equal(summaryInWords({ entitled: false, status: 'card_expired', reason: 'card_expired', card: 'pm_a' }), 'no access (card_expired, card_expired)');
  });
});

describe('featuresOf', () => {
  it('reads per-feature answers as a map or a list, and nothing when there are none', () => {
    assert.equal(featuresOf({ entitled: true }), null);
    assert.deepEqual(featuresOf({ features: { archive: { entitled: true, status: 'active', reason: 'subscribed' }, puzzles: false } }), [
      { feature: 'archive', entitled: true, status: 'active', reason: 'subscribed' },
      { feature: 'puzzles', entitled: false, status: 'not granted', reason: '' },
    ]);
    assert.deepEqual(featuresOf({ features: [{ feature: 'news', entitled: false, status: 'card_expired', reason: 'card_expired' }] }), [
      { feature: 'news', entitled: false, status: 'card_expired', reason: 'card_expired' },
    ]);
  });
});

describe('the funnel page arithmetic', () => {
  it('lists the days of the range ending today and refuses a bad one', () => {
    assert.deepEqual(recoveryDays(Date.UTC(2026, 2, 1, 15), '3'), ['2026-02-27', '2026-02-28', '2026-03-01']);
    assert.equal(recoveryDays(0, undefined)?.length, 14);
    for (const bad of ['0', '91', '1.5', 'x', ['1']]) assert.equal(recoveryDays(0, bad), null);
  });
  it('totals days and takes the median over all restored episodes, not a median of medians', () => {
    const zero = { detected: 0, notice_sent: 0, link_opened: 0, portal_session: 0, card_updated: 0, restored: 0 };
    const totals = totalsOf([
      { day: 'a', problem: 'expired', counts: { ...zero, detected: 2, restored: 2 }, medianRestoreMs: 15, restoreMs: [10, 20] },
      { day: 'b', problem: 'expired', counts: { ...zero, detected: 1, restored: 1 }, medianRestoreMs: 1000, restoreMs: [1000] },
    ]);
    assert.deepEqual(totals.map((t) => t.problem), [...CARD_PROBLEMS]);
    assert.equal(totals[0]!.counts.detected, 3);
    assert.equal(totals[0]!.medianRestoreMs, 20);
    assert.equal(durationInWords(36 * 3_600_000), '1.5 days');
  });
});
