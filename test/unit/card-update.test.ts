import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newCardArrived, needsCardUpdate, planCardRecovery } from '../../src/domain/card-update.js';
import { decideEntitlement } from '../../src/domain/entitlement-policy.js';
import { cardExpiresAt, DAY_MS } from '../../src/domain/card-expiry.js';
import type { CardSnapshot, CustomerProjection, SubscriptionSnapshot } from '../../src/domain/projection.js';

const OLD: CardSnapshot = { id: 'pm_old', brand: 'visa', last4: '4242', exp_month: 3, exp_year: 2027 };
const NEW: CardSnapshot = { id: 'pm_new', brand: 'visa', last4: '1881', exp_month: 3, exp_year: 2031 };
const NOW = cardExpiresAt(3, 2027) + DAY_MS;
const sub = (s: Partial<SubscriptionSnapshot>): SubscriptionSnapshot => ({
  id: 'sub_1', status: 'active', current_period_end: null, cancel_at_period_end: false, card: OLD, past_due_since: null, created: 0, ...s,
});
const projection = (default_card: CardSnapshot | null, subscriptions: SubscriptionSnapshot[]): CustomerProjection => ({
  customer: 'cus_1', user: null, email: null, deleted: false, default_card, subscriptions, read_at: 0,
});

describe('a new card', () => {
  it('arrives when the default card changes, or the same card gets a new expiry; not on the first sight', () => {
    assert.equal(newCardArrived(projection(OLD, []), projection(NEW, [])), true);
    assert.equal(newCardArrived(projection(OLD, []), projection({ ...OLD, exp_year: 2030 }, [])), true);
    assert.equal(newCardArrived(projection(OLD, []), projection(OLD, [])), false);
    assert.equal(newCardArrived(null, projection(NEW, [])), false);
  });

  it('is set on active and past_due subscriptions paying with another card, and pays for past_due ones', () => {
    const p = projection(NEW, [sub({ id: 'a' }), sub({ id: 'b', status: 'past_due' }), sub({ id: 'c', card: NEW }), sub({ id: 'd', status: 'canceled' })]);
    assert.deepEqual(planCardRecovery(p, NOW), { cardId: 'pm_new', moveSubscriptions: ['a', 'b'], payForSubscriptions: ['b'] });
  });

  it('an expired new default, or nothing to move or pay, is no plan', () => {
    assert.equal(planCardRecovery(projection(OLD, [sub({ card: NEW })]), NOW), null);
    assert.equal(planCardRecovery(projection(NEW, [sub({ card: NEW })]), NOW), null);
  });
});

describe('the update-card link in an answer', () => {
  const settings = { cardExpiredGraceDays: 0, pastDueGraceDays: 7 };
  it('is offered when the card has expired, is expiring within the widest window, or a payment failed', () => {
    const ent = (card: CardSnapshot, status: SubscriptionSnapshot['status'] = 'active') => decideEntitlement(projection(card, [sub({ card, status })]), NOW, settings);
    assert.equal(needsCardUpdate(ent(OLD), NOW, [30, 7]), true);
    assert.equal(needsCardUpdate(ent(NEW), NOW, [30, 7]), false);
    assert.equal(needsCardUpdate(ent({ ...NEW, exp_year: 2027, exp_month: 3 + 1 }), NOW, [30, 7]), true);
    assert.equal(needsCardUpdate(ent(NEW, 'past_due'), NOW, [30]), true);
    assert.equal(needsCardUpdate(decideEntitlement(null, NOW, settings), NOW, [30]), false);
  });
});
