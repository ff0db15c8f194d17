import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS, cardExpiresAt } from '../../src/domain/card-expiry.js';
import { effectiveExpiry, isFlagged, isHonoured, markKey } from '../../src/domain/card-marks.js';
import { decideEntitlement } from '../../src/domain/entitlement-policy.js';
import type { CardExpiryMark, CustomerProjection } from '../../src/domain/projection.js';

const CARD = { id: 'pm_1', brand: 'visa', last4: '4242', exp_month: 9, exp_year: 2026 };
const EXPIRES = cardExpiresAt(9, 2026);
const mark = (m: Partial<CardExpiryMark>): CardExpiryMark => ({ card: 'pm_1', exp_month: 9, exp_year: 2026, flagged_at: null, flag_source: null, honoured_at: null, ...m });

const projection = (marks?: CardExpiryMark[]): CustomerProjection => ({
  customer: 'cus_1',
  user: null,
  email: null,
  deleted: false,
  default_card: CARD,
  read_at: 0,
  subscriptions: [{ id: 'sub_1', status: 'active', current_period_end: null, cancel_at_period_end: false, card: CARD, past_due_since: null, created: 0 }],
  ...(marks ? { expiry_marks: marks } : {}),
});
const settings = { cardExpiredGraceDays: 0, pastDueGraceDays: 7 };

describe('card marks', () => {
  it('a mark names one card at one printed expiry', () => {
    assert.equal(markKey(CARD), 'pm_1|2026-09');
    assert.equal(isFlagged({ ...CARD, exp_year: 2030 }, [mark({ flagged_at: 1 })]), false, 'a new expiry is another card');
  });

  it('without marks the printed date decides', () => {
    assert.equal(effectiveExpiry(CARD, undefined), EXPIRES);
    assert.equal(decideEntitlement(projection(), EXPIRES - 1, settings).status, 'active');
    assert.equal(decideEntitlement(projection(), EXPIRES, settings).status, 'card_expired');
  });

  it('an expired_card decline before the printed date ends access from the decline', () => {
    const declinedAt = EXPIRES - 10 * DAY_MS;
    const marks = [mark({ flagged_at: declinedAt, flag_source: 'decline' })];
    assert.equal(effectiveExpiry(CARD, marks), declinedAt);
    const ent = decideEntitlement(projection(marks), declinedAt + 1, settings);
    assert.deepEqual([ent.status, ent.card?.expired], ['card_expired', true]);
    const graced = decideEntitlement(projection(marks), declinedAt + 1, { ...settings, cardExpiredGraceDays: 3 });
    assert.deepEqual([graced.status, graced.grace_until], ['grace_period', declinedAt + 3 * DAY_MS]);
  });

  it('a payment after the expiry keeps access for that card and expiry, flag or not', () => {
    const marks = [mark({ flagged_at: EXPIRES, flag_source: 'schedule', honoured_at: EXPIRES + DAY_MS })];
    assert.equal(isHonoured(CARD, marks), true);
    assert.equal(isFlagged(CARD, marks), false);
    assert.equal(effectiveExpiry(CARD, marks), null);
    const ent = decideEntitlement(projection(marks), EXPIRES + 40 * DAY_MS, settings);
    assert.deepEqual([ent.status, ent.entitled, ent.card?.expired], ['active', true, false]);
  });
});
