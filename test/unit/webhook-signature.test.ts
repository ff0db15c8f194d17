import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { verifyStripeWebhook } from '../../src/http/webhook-signature.js';
import { ValidationError } from '../../src/http/errors.js';

const SECRET = 'whsec_unit_secret_0001';
const OTHER = 'whsec_unit_secret_0002';
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const nowSeconds = Math.floor(NOW / 1000);
const payload = JSON.stringify({ id: 'evt_unit_1', object: 'event', type: 'customer.updated', created: nowSeconds, data: { object: { id: 'cus_1', object: 'customer' } } });

const sign = (body: string, secret = SECRET, timestamp = nowSeconds) =>
  Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${(err as Error).name}`);
    assert.equal(err.status, 400);
    return err.code;
  }
  assert.fail('verification passed');
}

const verify = (body: string | Buffer, header: string | undefined, secrets = [SECRET], now = NOW) =>
  verifyStripeWebhook({ rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), signatureHeader: header, secrets, now });

describe('webhook signature', () => {
  test('a correctly signed event verifies and parses', () => {
    assert.equal(verify(payload, sign(payload)).id, 'evt_unit_1');
  });

  test('any configured secret may have signed it (rotation)', () => {
    assert.equal(verify(payload, sign(payload, OTHER), [SECRET, OTHER]).id, 'evt_unit_1');
  });

  test('missing, empty and garbage headers are 400s', () => {
    assert.equal(codeOf(() => verify(payload, undefined)), 'missing_signature');
    assert.equal(codeOf(() => verify(payload, '')), 'missing_signature');
    assert.equal(codeOf(() => verify(payload, 'garbage')), 'invalid_signature');
    assert.equal(codeOf(() => verify(payload, `t=${nowSeconds},v1=`)), 'invalid_signature');
    assert.equal(codeOf(() => verify(payload, `t=${nowSeconds}`)), 'invalid_signature');
    assert.equal(codeOf(() => verify(payload, 't=,v1=abc')), 'invalid_signature');
  });

  test('a signature by another secret, or over another body, is refused', () => {
    assert.equal(codeOf(() => verify(payload, sign(payload, OTHER))), 'invalid_signature');
    assert.equal(codeOf(() => verify(payload.replace('cus_1', 'cus_2'), sign(payload))), 'invalid_signature');
  });

  test('a duplicated v1 with one good value verifies, two bad ones do not', () => {
    const good = sign(payload);
    const v1 = good.split(',').find((p) => p.startsWith('v1='));
    assert.equal(verify(payload, `t=${nowSeconds},v1=${'0'.repeat(64)},${v1}`).id, 'evt_unit_1');
    assert.equal(codeOf(() => verify(payload, `t=${nowSeconds},v1=${'0'.repeat(64)},v1=${'1'.repeat(64)}`)), 'invalid_signature');
  });

  test('older than 300 s is stale; more than 300 s ahead is refused too', () => {
    assert.equal(codeOf(() => verify(payload, sign(payload, SECRET, nowSeconds - 301))), 'timestamp_out_of_tolerance');
    assert.equal(codeOf(() => verify(payload, sign(payload, SECRET, nowSeconds + 301))), 'timestamp_out_of_tolerance');
    assert.equal(verify(payload, sign(payload, SECRET, nowSeconds - 299)).id, 'evt_unit_1');
    assert.equal(verify(payload, sign(payload, SECRET, nowSeconds + 299)).id, 'evt_unit_1');
  });

  test('a header with more than one t= is refused, in either order, even with a valid signature', () => {
    const yearAhead = nowSeconds + 365 * 86_400;
    const v1Ahead = sign(payload, SECRET, yearAhead).split(',').find((p) => p.startsWith('v1='))!;
    const v1Now = sign(payload).split(',').find((p) => p.startsWith('v1='))!;
    for (const header of [
      `t=${nowSeconds},t=${yearAhead},${v1Ahead}`,
      `t=${yearAhead},${v1Ahead},t=${nowSeconds}`,
      `t=${yearAhead},t=${nowSeconds},${v1Ahead}`,
      `t=${nowSeconds},${v1Now},t=${nowSeconds}`,
      `t=${nowSeconds},${v1Now}, t=${yearAhead}`,
      `t=${nowSeconds},${v1Now},t =${yearAhead}`,
    ]) {
      assert.equal(codeOf(() => verify(payload, header)), 'invalid_signature', header.replace(/v1=\w+/, 'v1=…'));
    }
  });

  test('the timestamp is read exactly as the SDK verifies it: plain digits, its own key', () => {
    const v1Now = sign(payload).split(',').find((p) => p.startsWith('v1='))!;
    assert.equal(verify(payload, `t=${nowSeconds},${v1Now}`).id, 'evt_unit_1');
    assert.equal(verify(payload, `${v1Now},t=${nowSeconds}`).id, 'evt_unit_1');
    for (const header of [`t=${nowSeconds}x,${v1Now}`, `t= ${nowSeconds},${v1Now}`, ` t=${nowSeconds},${v1Now}`, `t=${nowSeconds}=1,${v1Now}`, `t=+${nowSeconds},${v1Now}`]) {
      assert.equal(codeOf(() => verify(payload, header)), 'invalid_signature', header.replace(/v1=\w+/, 'v1=…'));
    }
  });

  test('a validly signed body that is not JSON, or not an event, is a 400', () => {
    const notJson = '{"id": "evt_1",';
    assert.equal(codeOf(() => verify(notJson, sign(notJson))), 'malformed_payload');
    const notEvent = JSON.stringify({ hello: 'world' });
    assert.equal(codeOf(() => verify(notEvent, sign(notEvent))), 'malformed_event');
    const badId = JSON.stringify({ id: 'evt_1:x', object: 'event', type: 't', created: 1, data: { object: {} } });
    assert.equal(codeOf(() => verify(badId, sign(badId))), 'malformed_event');
  });

  test('an empty body is a 400', () => {
    assert.equal(codeOf(() => verify(Buffer.alloc(0), sign(''))), 'empty_body');
  });

  test('error messages never echo the header or the body', () => {
    const header = sign(payload, OTHER);
    try {
      verify(payload, header);
    } catch (err) {
      assert.ok(!(err as Error).message.includes(header));
      assert.ok(!(err as Error).message.includes('cus_1'));
      return;
    }
    assert.fail('verification passed');
  });
});
