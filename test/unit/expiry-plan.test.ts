import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS, cardExpiresAt } from '../../src/domain/card-expiry.js';
import {
  planPastDueGraceEnds,
  billedCards,
  cardForDecline,
  cardForPaymentFailure,
  cardsProvenByPayment,
  cardsToFlag,
  decideExpire,
  decideNoticeWindow,
  expiryIndexScore,
  nearestOpenWindow,
  planExpiryJobs,
  type BilledCard,
} from '../../src/domain/expiry-plan.js';
import type { CardSnapshot, CustomerProjection, SubscriptionSnapshot } from '../../src/domain/projection.js';

const card = (id: string, exp_month: number, exp_year: number): CardSnapshot => ({ id, brand: 'visa', last4: '4242', exp_month, exp_year });
const billed = (c: CardSnapshot): BilledCard => ({ ...c, expiresAt: cardExpiresAt(c.exp_month, c.exp_year) });

function projection(subs: Array<Partial<SubscriptionSnapshot>>, extra: Partial<CustomerProjection> = {}): CustomerProjection {
  return {
    customer: 'cus_1',
    user: null,
    email: 'r@example.test',
    deleted: false,
    default_card: subs[0]?.card ?? null,
    read_at: 0,
    subscriptions: subs.map((s, i) => ({
      id: `sub_${i}`,
      status: 'active',
      current_period_end: null,
      cancel_at_period_end: false,
      card: card('pm_1', 9, 2026),
      past_due_since: null,
      created: i,
      ...s,
    })),
    ...extra,
  };
}

const PM = card('pm_1', 9, 2026);
const EXPIRES = cardExpiresAt(9, 2026); // 2026-10-01
const plan = (now: number, noticeDays = [30, 7], graceDays = 0) =>
  planExpiryJobs({ customerId: 'cus_1', card: billed(PM), noticeDays, graceDays, now });

describe('planExpiryJobs', () => {
  it('a card expiring in 30 days: the 30-day notice now, the 7-day notice and the expiry check later', () => {
    const now = EXPIRES - 30 * DAY_MS;
    assert.deepEqual(plan(now), [
      { kind: 'notice', windowDays: 30, runAt: now, jobId: `notice-cus_1-pm_1-${EXPIRES}-30d` },
      { kind: 'notice', windowDays: 7, runAt: EXPIRES - 7 * DAY_MS, jobId: `notice-cus_1-pm_1-${EXPIRES}-7d` },
      { kind: 'expire', windowDays: null, runAt: EXPIRES, jobId: `expire-cus_1-pm_1-${EXPIRES}` },
    ]);
  });

  it('a card expiring in 10 days: the open 30-day window sends at once, the 7-day waits', () => {
    const now = EXPIRES - 10 * DAY_MS;
    assert.deepEqual(plan(now).map((j) => [j.windowDays, j.runAt - now]), [[30, 0], [7, 3 * DAY_MS], [null, 10 * DAY_MS]]);
  });

  it('several windows open: only the nearest one is planned', () => {
    const now = EXPIRES - 5 * DAY_MS;
    assert.deepEqual(plan(now).map((j) => j.windowDays), [7, null]);
  });

  it('a card expiring today (0 days) or already expired gets only the expiry check, at once', () => {
    assert.deepEqual(plan(EXPIRES).map((j) => [j.kind, j.runAt]), [['expire', EXPIRES]]);
    assert.deepEqual(plan(EXPIRES + DAY_MS).map((j) => [j.kind, j.runAt]), [['expire', EXPIRES + DAY_MS]]);
  });

  it('a card grace adds a job at its end, while it has not passed', () => {
    const jobs = plan(EXPIRES - DAY_MS, [7], 3);
    assert.deepEqual(jobs.at(-1), { kind: 'grace_end', windowDays: null, runAt: EXPIRES + 3 * DAY_MS, jobId: `grace-cus_1-pm_1-${EXPIRES}` });
    assert.equal(plan(EXPIRES + 4 * DAY_MS, [7], 3).some((j) => j.kind === 'grace_end'), false);
  });

  it('job ids are the same however often a card is planned, and differ for a new expiry', () => {
    assert.deepEqual(plan(EXPIRES - 20 * DAY_MS).map((j) => j.jobId), plan(EXPIRES - 20 * DAY_MS).map((j) => j.jobId));
    const renewed = planExpiryJobs({ customerId: 'cus_1', card: billed(card('pm_1', 9, 2029)), noticeDays: [30], graceDays: 0, now: 0 });
    assert.ok(renewed.every((j) => !j.jobId.includes(String(EXPIRES))));
    assert.ok(plan(0).every((j) => !j.jobId.includes(':')), 'BullMQ ids carry no colon');
  });

  it('year and month ends: a December card expires at New Year, a leap February on 1 March', () => {
    const dec = planExpiryJobs({ customerId: 'c', card: billed(card('pm', 12, 2026)), noticeDays: [7], graceDays: 0, now: 0 });
    assert.equal(dec.find((j) => j.kind === 'expire')?.runAt, Date.UTC(2027, 0, 1));
    assert.equal(dec.find((j) => j.kind === 'notice')?.runAt, Date.UTC(2026, 11, 25));
    const feb = planExpiryJobs({ customerId: 'c', card: billed(card('pm', 2, 2028)), noticeDays: [30], graceDays: 0, now: 0 });
    assert.equal(feb.find((j) => j.kind === 'notice')?.runAt, Date.UTC(2028, 0, 31));
  });
});

describe('nearestOpenWindow', () => {
  it('is the open window with the fewest days left, or null', () => {
    assert.equal(nearestOpenWindow(EXPIRES, [30, 7], EXPIRES - 31 * DAY_MS), null);
    assert.equal(nearestOpenWindow(EXPIRES, [30, 7], EXPIRES - 8 * DAY_MS), 30);
    assert.equal(nearestOpenWindow(EXPIRES, [30, 7], EXPIRES - 7 * DAY_MS), 7);
    assert.equal(nearestOpenWindow(EXPIRES, [30, 7], EXPIRES), null);
  });
});

describe('billed cards and the index score', () => {
  it('counts only cards of active, trialing and past_due subscriptions, earliest first, deduplicated', () => {
    const p = projection([
      { card: card('pm_b', 5, 2030) },
      { card: card('pm_a', 5, 2027), status: 'past_due' },
      { card: card('pm_a', 5, 2027), status: 'trialing' },
      { card: card('pm_c', 1, 2026), status: 'canceled' },
    ]);
    assert.deepEqual(billedCards(p).map((c) => c.id), ['pm_a', 'pm_b']);
    assert.equal(expiryIndexScore(p), cardExpiresAt(5, 2027));
  });
  it('a customer with nothing billed, or deleted, is not indexed', () => {
    assert.equal(expiryIndexScore(projection([{ status: 'canceled' }])), null);
    assert.equal(expiryIndexScore(projection([{}], { deleted: true })), null);
  });
});

describe('decisions when a job runs', () => {
  const job = { customerId: 'cus_1', cardId: 'pm_1', exp_month: 9, exp_year: 2026 };

  it('a notice window: send, or skip when the card changed, expired, or a nearer window opened; wait when early', () => {
    const p = projection([{ card: PM }]);
    assert.equal(decideNoticeWindow(p, { ...job, windowDays: 7 }, [30, 7], EXPIRES - 7 * DAY_MS).action, 'send');
    assert.deepEqual(decideNoticeWindow(p, { ...job, windowDays: 30 }, [30, 7], EXPIRES - 6 * DAY_MS), { action: 'skip', reason: 'nearer_window_open' });
    assert.deepEqual(decideNoticeWindow(p, { ...job, windowDays: 7 }, [30, 7], EXPIRES), { action: 'skip', reason: 'expired_already' });
    assert.deepEqual(decideNoticeWindow(projection([{ card: card('pm_2', 9, 2030) }]), { ...job, windowDays: 7 }, [7], EXPIRES - DAY_MS), { action: 'skip', reason: 'card_changed' });
    assert.deepEqual(decideNoticeWindow(p, { ...job, windowDays: 7 }, [7], EXPIRES - 8 * DAY_MS), { action: 'wait', until: EXPIRES - 7 * DAY_MS });
  });

  it('the expiry check: flag, or skip when the card changed, is flagged or honoured; wait when early', () => {
    const p = projection([{ card: PM }]);
    assert.equal(decideExpire(p, job, EXPIRES).action, 'flag');
    assert.deepEqual(decideExpire(p, job, EXPIRES - 1), { action: 'wait', until: EXPIRES });
    assert.deepEqual(decideExpire(p, { ...job, exp_year: 2025 }, EXPIRES), { action: 'skip', reason: 'card_changed' });
    const mark = { card: 'pm_1', exp_month: 9, exp_year: 2026, flagged_at: EXPIRES, flag_source: 'schedule' as const, honoured_at: null };
    assert.deepEqual(decideExpire({ ...p, expiry_marks: [mark] }, job, EXPIRES), { action: 'skip', reason: 'already_flagged' });
    assert.deepEqual(decideExpire({ ...p, expiry_marks: [{ ...mark, honoured_at: EXPIRES + 1 }] }, job, EXPIRES), { action: 'skip', reason: 'honoured' });
    assert.deepEqual(cardsToFlag(p, EXPIRES).map((c) => c.id), ['pm_1']);
    assert.deepEqual(cardsToFlag({ ...p, expiry_marks: [mark] }, EXPIRES), []);
  });

  it('a payment proves a card only if it was made after the card expired', () => {
    const p = projection([{ id: 'sub_x', card: PM }]);
    assert.deepEqual(cardsProvenByPayment(p, EXPIRES + 1, 'sub_x').map((c) => c.id), ['pm_1']);
    assert.deepEqual(cardsProvenByPayment(p, EXPIRES - 1, 'sub_x'), []);
    assert.deepEqual(cardsProvenByPayment(p, EXPIRES + 1, 'sub_other'), []);
    assert.deepEqual(cardsProvenByPayment(p, EXPIRES + 1, null).map((c) => c.id), ['pm_1']);
  });
});

describe('planPastDueGraceEnds', () => {
  const sub = (over: Partial<SubscriptionSnapshot>): SubscriptionSnapshot => ({
    id: 'sub_1',
    status: 'past_due',
    current_period_end: null,
    cancel_at_period_end: false,
    card: null,
    past_due_since: Date.UTC(2027, 1, 27, 10),
    created: 0,
    ...over,
  });

  it('a past_due subscription gets one job at failure + grace, across a month end', () => {
    const jobs = planPastDueGraceEnds({ customerId: 'cus_1', subscriptions: [sub({})], pastDueGraceDays: 7, now: Date.UTC(2027, 1, 28) });
    assert.deepEqual(jobs, [{ subscriptionId: 'sub_1', runAt: Date.UTC(2027, 2, 6, 10), jobId: `pastdue-cus_1-sub_1-${Date.UTC(2027, 1, 27, 10)}` }]);
  });

  it('no job once the grace is over, for other statuses, or without a failure instant', () => {
    const now = Date.UTC(2027, 2, 6, 10);
    assert.deepEqual(planPastDueGraceEnds({ customerId: 'cus_1', subscriptions: [sub({})], pastDueGraceDays: 7, now }), []);
    assert.deepEqual(planPastDueGraceEnds({ customerId: 'cus_1', subscriptions: [sub({ status: 'active' })], pastDueGraceDays: 7, now: 0 }), []);
    assert.deepEqual(planPastDueGraceEnds({ customerId: 'cus_1', subscriptions: [sub({ past_due_since: null })], pastDueGraceDays: 7, now: 0 }), []);
  });
});

describe('which card a decline or a failed payment is about', () => {
  const a = card('pm_a', 9, 2027);
  const b = card('pm_b', 3, 2028);
  const two = projection([{ card: a }, { id: 'sub_b', card: b, status: 'past_due' }], { default_card: card('pm_d', 1, 2030) });

  it('an expired_card decline flags the declined card as known, at the expiry the issuer reports', () => {
    assert.deepEqual(cardForDecline(two, { cardId: 'pm_b', exp_month: 2, exp_year: 2028 }), { ...b, exp_month: 2, exp_year: 2028 });
    assert.deepEqual(cardForDecline(two, { cardId: 'pm_b', exp_month: null, exp_year: null }), b);
  });

  it('a decline naming no card is about the first subscription\'s card', () => {
    assert.deepEqual(cardForDecline(two, { cardId: null, exp_month: null, exp_year: null }), a);
  });

  it('a card the projection does not know yet is flagged from the decline alone, only with a readable expiry', () => {
    assert.deepEqual(cardForDecline(two, { cardId: 'pm_new', exp_month: 4, exp_year: 2026 }), { id: 'pm_new', brand: 'unknown', last4: '', exp_month: 4, exp_year: 2026 });
    assert.equal(cardForDecline(two, { cardId: 'pm_new', exp_month: null, exp_year: 2026 }), null);
    assert.equal(cardForDecline(two, { cardId: 'pm_new', exp_month: 13, exp_year: 2026 }), null);
  });

  it('a payment failure names the declined card if it bills a subscription, else the past_due one, else the default', () => {
    assert.deepEqual(cardForPaymentFailure(two, 'pm_a'), a);
    assert.deepEqual(cardForPaymentFailure(two, 'pm_elsewhere'), b);
    assert.deepEqual(cardForPaymentFailure(two, null), b);
    const current = projection([{ card: a }], { default_card: card('pm_d', 1, 2030) });
    assert.equal(cardForPaymentFailure(current, null)?.id, 'pm_d');
    assert.equal(cardForPaymentFailure(null, 'pm_a'), null);
  });
});
