import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { captureLogs } from '../support/log-capture.js';
import { createHarness, OLD_WEBHOOK_SECRET, WEBHOOK_SECRET, type Harness } from '../support/harness.js';
import { CURRENT_API_VERSION, customerFixture, LEGACY_API_VERSION } from '../fixtures/stripe-objects.js';

describe('POST /webhooks/stripe', () => {
  let h: Harness;
  const logs = captureLogs();

  before(async () => {
    h = await createHarness({ label: 'webhook', workers: false, logger: logs.logger });
  });
  after(async () => {
    await h.close();
  });
  beforeEach(async () => {
    await h.queues.stripeEvents.obliterate({ force: true });
  });

  const newEvent = () => h.stripe.makeEvent('customer.updated', customerFixture());
  const enqueuedIds = async () => (await h.queues.stripeEvents.getJobs(['waiting', 'prioritized', 'delayed', 'active'])).map((j) => j.id);

  test('a verified event is stored and enqueued before the 200', async () => {
    const event = newEvent();
    const res = await h.deliver(event);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { received: true });
    const job = await h.queues.stripeEvents.getJob(event.id);
    assert.ok(job, 'job exists under the event id');
    assert.ok('digest' in job.data, 'the job carries the digest');
    assert.equal(job.data.digest.id, event.id);
    assert.equal(job.data.digest.type, 'customer.updated');
    assert.equal(job.data.digest.data.object.id, event.data.object.id);
    assert.ok(await h.ledger.has(event.id));
  });

  test("a job keeps no e-mail, name, address or metadata of the event, as stored in Redis", async () => {
    const customer = customerFixture({
      email: 'ada.lovelace@example.com',
      name: 'Ada Lovelace',
      phone: '+44 20 7946 0000',
      address: { city: 'London', country: 'GB', line1: '12 St James Square', line2: null, postal_code: 'SW1Y 4JH', state: null },
      metadata: { user_id: 'reader-ada', note: 'ada@private.example' },
      invoice_settings: { default_payment_method: 'pm_ada' },
    });
    const event = h.stripe.makeEvent('customer.updated', customer, { previous_attributes: { email: 'old.ada@example.com', name: 'A. L.' } });
    assert.equal((await h.deliver(event)).status, 200);

    const job = await h.queues.stripeEvents.getJob(event.id);
    assert.ok(job && 'digest' in job.data);
    assert.deepEqual(job.data.digest.data, { object: { id: customer.id, object: 'customer' }, previous_attributes: {} });
    // Everything BullMQ stored for the job (data, options, …), read back from Redis as it is.
    const stored = JSON.stringify(await h.apiRedis.hgetall(h.queues.stripeEvents.toKey(event.id)));
    assert.match(stored, new RegExp(customer.id), 'read the right job');
    for (const secret of ['@', 'Ada', 'Lovelace', 'London', 'SW1Y', '7946', 'reader-ada', 'metadata', 'pm_ada']) {
      assert.ok(!stored.includes(secret), `${secret} is not stored`);
    }
  });

  test('when the same event arrives five times, it is enqueued once', async () => {
    const event = newEvent();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await h.deliver(event)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.deepEqual(await enqueuedIds(), [event.id]);
  });

  test('twenty concurrent deliveries of one event make one job and twenty 200s', async () => {
    const event = newEvent();
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.deliver(event)));
    assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
    assert.equal(responses.filter((r) => r.body.duplicate !== true).length, 1);
    assert.deepEqual(await enqueuedIds(), [event.id]);
  });

  test('a replay after the job is gone is still recognised by the ledger', async () => {
    const event = newEvent();
    assert.equal((await h.deliver(event)).status, 200);
    await h.queues.stripeEvents.obliterate({ force: true });
    const again = await h.deliver(event);
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.deepEqual(await enqueuedIds(), []);
  });

  test('a claim left unconfirmed by a crash between claim and enqueue is enqueued by the redelivery', async () => {
    const event = newEvent();
    assert.equal(await h.ledger.claim(event.id, h.clock.now()), 'new'); // the crashed attempt got this far
    assert.deepEqual(await enqueuedIds(), []);
    const redelivery = await h.deliver(event);
    assert.equal(redelivery.status, 200);
    assert.deepEqual(await enqueuedIds(), [event.id]);
    assert.equal(await h.ledger.claim(event.id, h.clock.now()), 'enqueued');
    await h.deliver(event);
    assert.deepEqual(await enqueuedIds(), [event.id]);
  });

  test('an event signed with the previous secret (rotation) is accepted', async () => {
    const event = newEvent();
    assert.equal((await h.deliver(event, { secret: OLD_WEBHOOK_SECRET })).status, 200);
    assert.deepEqual(await enqueuedIds(), [event.id]);
  });

  describe('refusals: each a 400 JSON error, nothing enqueued', () => {
    const post = (body: string | Buffer, signature?: string) => {
      const req = request(h.app).post('/webhooks/stripe').set('Content-Type', 'application/json');
      if (signature !== undefined) req.set('Stripe-Signature', signature);
      return req.send(body);
    };
    const now = () => Math.floor(h.clock.now() / 1000);

    const cases: Array<[string, () => Promise<request.Response>, string]> = [
      ['no signature header', async () => post(JSON.stringify(newEvent())), 'missing_signature'],
      [
        'an empty v1',
        async () => post(JSON.stringify(newEvent()), `t=${now()},v1=`),
        'invalid_signature',
      ],
      [
        'a signature by an unknown secret',
        async () => {
          const { payload, header } = h.stripe.sign(newEvent(), 'whsec_somebody_else_0001', { timestamp: now() });
          return post(payload, header);
        },
        'invalid_signature',
      ],
      [
        'two v1 values, neither right',
        async () => post(JSON.stringify(newEvent()), `t=${now()},v1=${'a'.repeat(64)},v1=${'b'.repeat(64)}`),
        'invalid_signature',
      ],
      [
        'a stale timestamp (301 s old)',
        async () => {
          const { payload, header } = h.stripe.sign(newEvent(), WEBHOOK_SECRET, { timestamp: now() - 301 });
          return post(payload, header);
        },
        'timestamp_out_of_tolerance',
      ],
      [
        'a future timestamp (301 s ahead)',
        async () => {
          const { payload, header } = h.stripe.sign(newEvent(), WEBHOOK_SECRET, { timestamp: now() + 301 });
          return post(payload, header);
        },
        'timestamp_out_of_tolerance',
      ],
      [
        'malformed JSON with a valid signature',
        async () => {
          const payload = '{"id":"evt_broken","object":"event",';
          const header = h.stripe.signPayload(payload, WEBHOOK_SECRET, { timestamp: now() });
          return post(payload, header);
        },
        'malformed_payload',
      ],
      [
        'valid JSON that is not an event, validly signed',
        async () => {
          const payload = JSON.stringify({ id: 'evt_x', object: 'charge' });
          return post(payload, h.stripe.signPayload(payload, WEBHOOK_SECRET, { timestamp: now() }));
        },
        'malformed_event',
      ],
      ['an empty body', async () => post('', h.stripe.signPayload('', WEBHOOK_SECRET, { timestamp: now() })), 'empty_body'],
      ['a header with crafted junk', async () => post(JSON.stringify(newEvent()), 't=abc,v1=,v0=,,=,'), 'invalid_signature'],
      [
        'a valid signature for a year ahead, then a current t=',
        async () => {
          const { payload, header } = h.stripe.sign(newEvent(), WEBHOOK_SECRET, { timestamp: now() + 365 * 86_400 });
          return post(payload, `${header},t=${now()}`);
        },
        'invalid_signature',
      ],
      [
        'a current t=, then a valid signature for a year ahead',
        async () => {
          const { payload, header } = h.stripe.sign(newEvent(), WEBHOOK_SECRET, { timestamp: now() + 365 * 86_400 });
          return post(payload, `t=${now()},${header}`);
        },
        'invalid_signature',
      ],
    ];

    for (const [name, send, code] of cases) {
      test(`${name} -> 400 ${code}`, async () => {
        const res = await send();
        assert.equal(res.status, 400);
        assert.match(res.headers['content-type'] ?? '', /application\/json/);
        assert.equal(res.body.error.code, code);
        assert.deepEqual(await enqueuedIds(), []);
      });
    }

    test('a body over 1 MB -> 413 JSON', async () => {
      const event = newEvent() as unknown as { data: { object: Record<string, unknown> } };
      event.data.object.metadata = { padding: 'x'.repeat(1024 * 1024) };
      const payload = JSON.stringify(event);
      const res = await post(payload, h.stripe.signPayload(payload, WEBHOOK_SECRET, { timestamp: now() }));
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'payload_too_large');
      assert.match(res.body.error.message, /1 MB/);
      assert.deepEqual(await enqueuedIds(), []);
    });

    test('a 60 KB event (real ones reach that) is accepted', async () => {
      const event = newEvent() as unknown as { id: string; data: { object: Record<string, unknown> } };
      event.data.object.metadata = { padding: 'x'.repeat(60 * 1024) };
      const payload = JSON.stringify(event);
      const res = await post(payload, h.stripe.signPayload(payload, WEBHOOK_SECRET, { timestamp: now() }));
      assert.equal(res.status, 200);
      assert.deepEqual(await enqueuedIds(), [event.id]);
    });
  });

  describe('compressed bodies: refused before the body is read, never inflated', () => {
    const now = () => Math.floor(h.clock.now() / 1000);
    const signed = () => h.stripe.sign(newEvent(), WEBHOOK_SECRET, { timestamp: now() });
    const postEncoded = (body: Buffer | string, encoding: string, signature?: string) => {
      // superagent would JSON-encode a Buffer sent as application/json: send the bytes as they are.
      const req = request(h.app).post('/webhooks/stripe').set('Content-Type', 'application/json').set('Content-Encoding', encoding).serialize((raw: unknown) => raw as string);
      if (signature !== undefined) req.set('Stripe-Signature', signature);
      return req.send(body);
    };

    for (const [encoding, compress] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['br', brotliCompressSync],
    ] as const) {
      test(`a validly signed event sent ${encoding} -> 415 unsupported_encoding, nothing enqueued`, async () => {
        const { payload, header } = signed();
        const res = await postEncoded(compress(Buffer.from(payload)), encoding, header);
        assert.equal(res.status, 415);
        assert.equal(res.body.error.code, 'unsupported_encoding');
        assert.deepEqual(await enqueuedIds(), []);
      });
    }

    test('a "gzip" body that is not gzip -> 415, not a 500', async () => {
      const { payload, header } = signed();
      const res = await postEncoded(payload, 'gzip', header);
      assert.equal(res.status, 415);
      assert.equal(res.body.error.code, 'unsupported_encoding');
    });

    test('an unknown encoding -> 415; identity (any case) is read as usual', async () => {
      const { payload, header } = signed();
      assert.equal((await postEncoded(payload, 'x-custom', header)).status, 415);
      const identity = signed();
      assert.equal((await postEncoded(identity.payload, 'Identity', identity.header)).status, 200);
    });

    test('a missing signature header is a 400 whatever the encoding', async () => {
      const res = await postEncoded(gzipSync(Buffer.from(JSON.stringify(newEvent()))), 'gzip');
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'missing_signature');
    });

    describe('on a listening server, with a body announced but never sent', () => {
      let server: Server;
      before(async () => {
        server = createServer(h.app).listen(0, '127.0.0.1');
        await once(server, 'listening');
      });
      after(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });

      /** Sends only the headers (1 MB announced) and resolves with the answer; a server that waits for the body never answers. */
      async function headersOnly(headers: Record<string, string>): Promise<{ status: number; body: { error: { code: string } } }> {
        const { port } = server.address() as AddressInfo;
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/webhooks/stripe', headers: { 'Content-Type': 'application/json', 'Content-Length': String(1024 * 1024 - 1), ...headers } });
        req.on('error', () => {});
        req.flushHeaders();
        try {
          const [res] = (await Promise.race([
            once(req, 'response'),
            new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s: the server waited for the body')), 5000).unref()),
          ])) as [IncomingMessage];
          const chunks: Buffer[] = [];
          for await (const chunk of res) chunks.push(chunk as Buffer);
          return { status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
        } finally {
          req.destroy();
        }
      }

      test('no Stripe-Signature -> 400 missing_signature', async () => {
        const res = await headersOnly({});
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'missing_signature');
      });

      test('Content-Encoding: gzip -> 415 unsupported_encoding', async () => {
        const res = await headersOnly({ 'Stripe-Signature': signed().header, 'Content-Encoding': 'gzip' });
        assert.equal(res.status, 415);
        assert.equal(res.body.error.code, 'unsupported_encoding');
      });
    });
  });

  test('an event in another API version than the SDK pins is accepted and warned about once per version', async () => {
    const warnings = () => logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40 && l.component === 'webhook');
    const before = warnings().length;
    const legacy = () => h.stripe.makeEvent('customer.updated', customerFixture(), { api_version: LEGACY_API_VERSION });
    for (const event of [newEvent(), legacy(), legacy(), newEvent(), legacy()]) assert.equal((await h.deliver(event)).status, 200);
    const fresh = warnings().slice(before);
    assert.equal(fresh.length, 1);
    assert.equal(fresh[0]!.apiVersion, LEGACY_API_VERSION);
    assert.equal(fresh[0]!.sdkApiVersion, CURRENT_API_VERSION);
  });

  test('no log line carries the body or the signature header', async () => {
    const event = customerFixture({ email: 'reader@example.com' });
    const { payload, header } = h.stripe.sign(h.stripe.makeEvent('customer.updated', event), 'whsec_forged_secret_0001', {
      timestamp: Math.floor(h.clock.now() / 1000),
    });
    const res = await request(h.app).post('/webhooks/stripe').set('Stripe-Signature', header).send(payload);
    assert.equal(res.status, 400);
    const all = logs.lines.join('\n');
    const v1 = header.split('v1=')[1] ?? '';
    assert.ok(v1.length > 10);
    assert.ok(!all.includes(v1), 'signature not logged');
    assert.ok(!all.includes('reader@example.com'), 'body not logged');
  });
});
