import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STRIPE_ID_MAX_LENGTH, customerIdOf, idOf, isCustomerId, isEventId, isStripeId } from '../../src/domain/stripe-ids.js';

describe('Stripe ids', () => {
  test('a customer id is cus_ and letters, digits or underscores, 255 characters at most', () => {
    assert.equal(STRIPE_ID_MAX_LENGTH, 255);
    for (const id of ['cus_1', 'cus_Q1aZ_9', `cus_${'a'.repeat(251)}`]) assert.equal(isCustomerId(id), true, id);
    for (const id of [`cus_${'a'.repeat(252)}`, 'cus_', 'cus', 'CUS_1', 'cus_a-b', 'cus_a b', 'cus_a\n', 'acct_1', 'xcus_1', 7, null, undefined, ['cus_1']]) {
      assert.equal(isCustomerId(id), false, String(id).slice(0, 30));
    }
  });

  test('an event id is evt_…, with the same cap', () => {
    assert.equal(isEventId('evt_1Abc'), true);
    assert.equal(isEventId(`evt_${'e'.repeat(251)}`), true);
    assert.equal(isEventId(`evt_${'e'.repeat(252)}`), false);
    assert.equal(isEventId('evt_1:x'), false);
    assert.equal(isEventId('cus_1'), false);
  });

  test('any object id has a lowercase prefix, an underscore and the id alphabet', () => {
    for (const id of ['pm_1', 'card_legacy', 'in_1', 'src_1', 'seti_1', 'cs_test_a1B2', `ch_${'c'.repeat(252)}`]) assert.equal(isStripeId(id), true, id);
    for (const id of ['pm', '_1', 'Pm_1', 'pm_1.2', 'pm_', `ch_${'c'.repeat(253)}`, '']) assert.equal(isStripeId(id), false, id);
  });

  test('idOf reads an id string or an expanded object, and nothing that is not an id', () => {
    assert.equal(idOf('pm_1'), 'pm_1');
    assert.equal(idOf({ id: 'pm_1', object: 'payment_method' }), 'pm_1');
    assert.equal(idOf(null), null);
    assert.equal(idOf({ id: 42 }), null);
    assert.equal(idOf({ id: `pm_${'x'.repeat(300)}` }), null);
    assert.equal(idOf('not an id'), null);
    assert.equal(customerIdOf({ id: 'cus_9' }), 'cus_9');
    assert.equal(customerIdOf('pm_1'), null);
    assert.equal(customerIdOf(`cus_${'a'.repeat(200_000)}`), null);
  });
});
