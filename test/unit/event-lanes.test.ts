import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_ROUTES, routeEvent } from '../../src/domain/event-routing.js';
import { REFRESH_COVERED_BY, laneOf, refreshNeeded } from '../../src/domain/event-lanes.js';
import { readExpirySignal } from '../../src/domain/expiry-signals.js';
import { EVENT_LANE_PRIORITY } from '../../src/queues.js';
import type { StripeEventLike } from '../../src/domain/stripe-shapes.js';

function event(type: string, object: Record<string, unknown>): StripeEventLike {
  return {
    id: 'evt_1',
    object: 'event',
    type,
    api_version: '2026-10-28.endive',
    created: 1_790_000_000,
    livemode: false,
    data: { object: object as never },
    request: { id: null, idempotency_key: null },
  };
}

const paidInvoice = {
  object: 'invoice',
  id: 'in_1',
  customer: 'cus_A',
  status: 'paid',
  subscription: 'sub_1',
  status_transitions: { paid_at: 1_790_000_000 },
  charge: { id: 'ch_1', payment_method_details: { card: { exp_month: 12, exp_year: 2030 } } },
};

describe('event lanes: which events cost a refresh and which run first', () => {
  // The renewal mix of one subscription period, as Stripe sends it, and what each event costs.
  const renewal: [type: string, object: Record<string, unknown>, lane: string][] = [
    ['invoice.created', { ...paidInvoice, status: 'draft' }, 'idle'],
    ['invoice.finalized', { ...paidInvoice, status: 'open' }, 'idle'],
    ['invoice.paid', paidInvoice, 'access'],
    ['invoice.payment_succeeded', paidInvoice, 'idle'],
    ['customer.subscription.updated', { object: 'subscription', id: 'sub_1', customer: 'cus_A', status: 'active' }, 'access'],
    ['charge.succeeded', { object: 'charge', id: 'ch_1', customer: 'cus_A' }, 'idle'],
    ['payment_intent.succeeded', { object: 'payment_intent', id: 'pi_1', customer: 'cus_A' }, 'idle'],
  ];
  for (const [type, object, lane] of renewal) {
    test(`renewal: ${type} takes the ${lane} lane`, () => {
      assert.equal(laneOf(event(type, object)), lane);
    });
  }

  test('access-changing events keep their refresh and run in the access lane', () => {
    for (const type of ['customer.subscription.deleted', 'charge.failed', 'invoice.payment_failed', 'customer.updated', 'payment_method.detached', 'customer.source.expiring']) {
      const e = event(type, { object: 'x', id: type === 'customer.updated' ? 'cus_A' : 'x_1', customer: 'cus_A' });
      assert.equal(refreshNeeded(type), true, type);
      assert.equal(laneOf(e), 'access', type);
    }
  });

  test('every routed type refreshes unless the table names its companion', () => {
    for (const [type, route] of Object.entries(EVENT_ROUTES)) {
      const e = event(type, { object: 'x', id: 'cus_A', customer: 'cus_A' });
      const expected = Object.hasOwn(REFRESH_COVERED_BY, type) ? 'idle' : route.urgency;
      assert.equal(laneOf(e), expected, type);
    }
    assert.equal(refreshNeeded('some.future_event'), true, 'an unknown type is never skipped');
  });

  test('a skipped event cannot change an answer its companion does not: same customer, same urgency, same card signal', () => {
    for (const [skipped, companion] of Object.entries(REFRESH_COVERED_BY)) {
      assert.ok(Object.hasOwn(EVENT_ROUTES, companion), `${companion} is routed`);
      assert.equal(refreshNeeded(companion), true, `${companion} refreshes itself`);
      // The refresh re-reads the customer from Stripe, so what it can change is all the customer's; the
      // companion must name the same customer, at least as urgently.
      const skippedRoute = routeEvent(event(skipped, paidInvoice));
      const companionRoute = routeEvent(event(companion, paidInvoice));
      assert.deepEqual(companionRoute, skippedRoute, `${companion} routes as ${skipped}`);
      // The card signal of the skipped event still runs (it costs no refresh), and equals the companion's.
      assert.deepEqual(readExpirySignal(event(skipped, paidInvoice)), readExpirySignal(event(companion, paidInvoice)));
    }
  });

  test('the lanes map to BullMQ priorities in order: access before routine before idle, none of them 0', () => {
    assert.ok(EVENT_LANE_PRIORITY.access > 0);
    assert.ok(EVENT_LANE_PRIORITY.access < EVENT_LANE_PRIORITY.routine);
    assert.ok(EVENT_LANE_PRIORITY.routine < EVENT_LANE_PRIORITY.idle);
  });
});
