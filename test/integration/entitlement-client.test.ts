/**
 * @subgate/client against the real service: subgate's app and workers on a listening port, real Redis,
 * signed webhooks; the client's cache, coalescing, timeouts, failure policy and live invalidation over
 * GET /v1/entitlements/events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber, replaceCard, settleExpiry } from '../support/card-scenarios.js';
import { createTestRedis, waitFor } from '../support/redis.js';
import { createEntitlementClient, createSseParser, EntitlementClientError, type EntitlementClient, type SseMessage } from '@subgate/client';
import { createEntitlementFeed, entitlementStreamKeys } from '../../src/store/entitlement-feed.js';
import { publishChanges } from '../support/feed-streams.js';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A global fetch that counts entitlement calls and can be switched off (an outage as the client sees it). */
function countingFetch() {
  const state = { checks: 0, down: false };
  const wrapped: typeof fetch = async (input, init) => {
    const url = String(input);
    if (state.down) throw new TypeError('fetch failed');
    if (url.includes('/v1/entitlements?')) state.checks++;
    return fetch(input, init);
  };
  return { state, fetch: wrapped };
}

/** Reads an SSE response until `until` says stop, collecting messages (and whether a comment arrived). */
async function readEvents(res: Response, until: (messages: SseMessage[], raw: string) => boolean, timeoutMs = 5000) {
  const messages: SseMessage[] = [];
  let raw = '';
  const parser = createSseParser((m) => messages.push(m));
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const deadline = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!until(messages, raw)) {
      const { value, done } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      raw += text;
      parser.push(text);
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => undefined);
  }
  return { messages, raw };
}

describe('@subgate/client against the real service', () => {
  let h: Harness;
  let server: Server;
  let baseUrl: string;
  const clients: EntitlementClient[] = [];
  const client = (opts: Partial<Parameters<typeof createEntitlementClient>[0]> = {}) => {
    const c = createEntitlementClient({ baseUrl, token: API_TOKEN, ...opts });
    clients.push(c);
    return c;
  };
  const events = (headers: Record<string, string> = {}) =>
    fetch(`${baseUrl}/v1/entitlements/events`, { headers: { Authorization: `Bearer ${API_TOKEN}`, ...headers } });
  const streamKey = () => entitlementStreamKeys(h.prefix).stream;

  before(async () => {
    h = await createHarness({ label: 'ent-client', cardExpiry: {}, eventsHeartbeatMs: 100 });
    server = createServer(h.app);
    baseUrl = await listen(server);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await h.close();
  });

  test('100 concurrent asks for one reader make one HTTP call, and the next ask is served from the cache', async () => {
    await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'coalesce-1' });
    const counter = countingFetch();
    const c = client({ fetch: counter.fetch, live: false });

    const answers = await Promise.all(Array.from({ length: 100 }, () => c.checkUser('coalesce-1')));

    assert.equal(counter.state.checks, 1);
    assert.ok(answers.every((a) => a.entitled && a.status === 'active' && a.source === 'network'));
    const again = await c.checkUser('coalesce-1');
    assert.equal(again.source, 'cache');
    assert.equal(counter.state.checks, 1);
    assert.deepEqual({ ...c.stats(), invalidated: 0 }, { hits: 1, requests: 1, coalesced: 99, stale: 0, unavailable: 0, invalidated: 0, size: 1 });
  });

  test('a change event drops the cached answer: a reader whose card is fixed is let in before the TTL runs out', async () => {
    const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'live-1', status: 'past_due', openInvoice: true, invoiceAgeDays: 30 });
    await settleExpiry(h);
    const counter = countingFetch();
    const changes: string[] = [];
    const c = client({ fetch: counter.fetch, cache: { ttlMs: 10 * 60_000 }, onChange: (change) => changes.push(change.customer) });
    await c.whenLive();
    const denied = await c.checkUser('live-1');
    assert.equal(denied.entitled, false);
    assert.equal((await c.checkUser('live-1')).source, 'cache');

    // The reader pays: Stripe says active, and subgate hears it by a signed webhook.
    const subscription = h.stripe.getSubscription(sub.subscriptionId)!;
    subscription.status = 'active';
    subscription.latest_invoice = null;
    h.stripe.putSubscription(subscription);
    assert.equal((await h.deliver(h.stripe.makeEvent('customer.subscription.updated', subscription))).status, 200);

    await waitFor(() => changes.includes(sub.customerId), { message: 'the change event to reach the client' });
    const allowed = await c.checkUser('live-1');
    assert.deepEqual([allowed.entitled, allowed.status, allowed.source], [true, 'active', 'network']);
    assert.equal(counter.state.checks, 2);
  });

  test('changes are resumable with Last-Event-ID, in order, then live', async () => {
    const first = await events();
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /^text\/event-stream/);
    const { messages } = await readEvents(first, (m) => m.some((x) => x.event === 'ready'));
    const resumeFrom = messages.find((m) => m.event === 'ready')!.lastEventId;

    // While nobody listens, two changes are published.
    const a = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'resume-a' });
    const b = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'resume-b' });

    const resumed = await readEvents(await events({ 'Last-Event-ID': resumeFrom }), (m) => m.some((x) => x.event === 'ready'));
    const replayed = resumed.messages.filter((m) => m.event === 'change').map((m) => JSON.parse(m.data).customer);
    assert.deepEqual(replayed.filter((id) => id === a.customerId || id === b.customerId), [a.customerId, b.customerId]);
    const ids = resumed.messages.filter((m) => m.event === 'change').map((m) => m.lastEventId);
    assert.ok(ids.every((id) => id > resumeFrom || id.length > resumeFrom.length));
    assert.equal(resumed.messages.at(-1)!.event, 'ready');
    assert.deepEqual(JSON.parse(resumed.messages.at(-1)!.data), { resumed: true });
  });

  test('an id the stream no longer holds, or a malformed one, gets a reset event', async () => {
    const redis = createTestRedis();
    try {
      // Entries older than the ones kept were trimmed away.
      const old = await redis.xadd(streamKey(), '*', 'customer', 'cus_old', 'change', '{}');
      await redis.xadd(streamKey(), '*', 'customer', 'cus_new', 'change', '{}');
      await redis.xtrim(streamKey(), 'MAXLEN', 1);
      const trimmed = await readEvents(await events({ 'Last-Event-ID': old! }), (m) => m.some((x) => x.event === 'ready'));
      assert.deepEqual(trimmed.messages.map((m) => m.event), ['reset', 'ready']);
      assert.deepEqual(JSON.parse(trimmed.messages[0]!.data), { reason: 'changes_lost' });

      const bogus = await readEvents(await events({ 'Last-Event-ID': 'not-an-id' }), (m) => m.some((x) => x.event === 'ready'));
      assert.deepEqual(bogus.messages.map((m) => m.event), ['reset', 'ready']);
      const future = await readEvents(await events({ 'Last-Event-ID': '99999999999999-0' }), (m) => m.some((x) => x.event === 'ready'));
      assert.deepEqual(future.messages.map((m) => m.event), ['reset', 'ready']);
    } finally {
      await redis.quit();
    }
  });

  test('the events route wants the bearer token, sends keep-alives, and forgets a client that hung up', async () => {
    const refused = await fetch(`${baseUrl}/v1/entitlements/events`);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unauthorized');
    const wrong = await fetch(`${baseUrl}/v1/entitlements/events`, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);

    const before = h.changeReader.listenerCount;
    const res = await events();
    const { raw } = await readEvents(res, (_m, text) => text.includes(': keep-alive'));
    assert.ok(raw.includes(': keep-alive\n\n'));
    await waitFor(() => h.changeReader.listenerCount === before, { message: 'the listener to be removed after the client left' });
  });

  test('the live subscription reconnects after the connection drops and replays what it missed', async () => {
    const states: string[] = [];
    const c = client({ cache: { ttlMs: 10 * 60_000 }, live: { initialBackoffMs: 20, maxBackoffMs: 100 }, onLiveState: (s) => states.push(s) });
    await c.whenLive();
    const sub = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'reconnect-1' });
    await settleExpiry(h);
    assert.equal((await c.checkUser('reconnect-1')).status, 'active');

    // The server drops every connection; the change happens while the client is away.
    server.closeAllConnections();
    replaceCard(h, sub.customerId, { exp_month: 1, exp_year: 2020 });
    const subscription = h.stripe.getSubscription(sub.subscriptionId)!;
    subscription.status = 'canceled';
    h.stripe.putSubscription(subscription);
    assert.equal((await h.deliver(h.stripe.makeEvent('customer.subscription.deleted', subscription))).status, 200);
    await h.settle();

    await waitFor(async () => (await c.checkUser('reconnect-1')).status === 'canceled', { message: 'the missed change to be replayed' });
    assert.ok(states.filter((s) => s === 'live').length >= 2, `reconnected (${states.join(' -> ')})`);
  });

  test('fail closed when subgate is unreachable; staleIfErrorMs serves the last answer for a bounded time', async () => {
    await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'outage-1' });
    const strict = countingFetch();
    const closed = client({ fetch: strict.fetch, live: false, cache: { ttlMs: 0 } });
    assert.equal((await closed.checkUser('outage-1')).entitled, true);
    strict.state.down = true;
    const refused = await closed.checkUser('outage-1');
    assert.deepEqual([refused.entitled, refused.status, refused.source], [false, 'unavailable', 'unavailable']);

    const lenient = countingFetch();
    const stale = client({ fetch: lenient.fetch, live: false, cache: { ttlMs: 0 }, staleIfErrorMs: 300 });
    assert.equal((await stale.checkUser('outage-1')).source, 'network');
    lenient.state.down = true;
    const served = await stale.checkUser('outage-1');
    assert.deepEqual([served.entitled, served.source], [true, 'stale']);
    await waitFor(async () => (await stale.checkUser('outage-1')).status === 'unavailable', { message: 'the stale window to close' });
  });

  test('a call that hangs is cut off by the timeout and fails closed', async () => {
    const hanging = createServer(() => undefined); // accepts, never answers
    const url = await listen(hanging);
    try {
      const c = client({ baseUrl: url, live: false, timeoutMs: 100 });
      const answer = await c.checkUser('anyone');
      assert.equal(answer.status, 'unavailable');
      assert.match(answer.source === 'unavailable' ? answer.error : '', /Timeout|abort/i);
    } finally {
      hanging.closeAllConnections();
      await new Promise((r) => hanging.close(r));
    }
  });

  test('a wrong token is a caller bug: it throws rather than failing closed quietly', async () => {
    const c = client({ token: 'wrong', live: false });
    await assert.rejects(c.checkUser('anyone'), (err: unknown) => err instanceof EntitlementClientError && err.status === 401 && err.code === 'unauthorized');
  });
});

/** A fetch that can be switched off, recording the Last-Event-ID of every events request it lets through. */
function gatedFetch() {
  const gate = { down: false, resumes: [] as string[] };
  const wrapped: typeof fetch = async (input, init) => {
    if (gate.down) throw new TypeError('fetch failed');
    const id = new Headers(init?.headers).get('last-event-id');
    if (String(input).includes('/v1/entitlements/events') && id) gate.resumes.push(id);
    return fetch(input, init);
  };
  return { gate, fetch: wrapped };
}

describe('@subgate/client when its resume cannot be replayed', () => {
  test('further behind than the max replay, it is reset at once: it drops its cache and goes live', async () => {
    const h = await createHarness({ label: 'ent-client-far', cardExpiry: {}, events: { maxReplay: 100 } });
    const server = createServer(h.app);
    const baseUrl = await listen(server);
    const { gate, fetch: gated } = gatedFetch();
    const changes: string[] = [];
    const c = createEntitlementClient({
      baseUrl,
      token: API_TOKEN,
      fetch: gated,
      cache: { ttlMs: 10 * 60_000 },
      live: { initialBackoffMs: 20, maxBackoffMs: 100 },
      onChange: (change) => changes.push(change.customer),
    });
    try {
      await c.whenLive();
      await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'far-1' });
      // Cached once the seeding's own change has come and gone.
      await waitFor(async () => (await c.checkUser('far-1')).source === 'cache', { message: 'the answer to be cached' });

      gate.down = true;
      server.closeAllConnections();
      await waitFor(() => c.liveState !== 'live', { message: 'the client to notice the stream is gone' });
      const missed = await publishChanges(createEntitlementFeed({ redis: h.apiRedis, prefix: h.prefix, maxLength: 100_000 }), 150, 'far');
      gate.down = false;

      await waitFor(() => c.liveState === 'live', { message: 'the client to go live again' });
      assert.deepEqual(gate.resumes.length, 1, 'one resume with its id, answered by a reset');
      assert.equal(changes.filter((customer) => missed.includes(customer)).length, 0, 'nothing replayed');
      assert.equal(c.stats().size, 0, 'the cache was dropped');
      assert.equal((await c.checkUser('far-1')).source, 'network');
    } finally {
      await c.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await h.close();
    }
  });

  test('a resume that keeps ending before ready is given up: the cache is dropped and the next stream starts from now', async () => {
    // Stands in for a server that cuts every resume short (as subgate did when a client was far behind).
    const requests: Array<string | null> = [];
    let first: ServerResponse | null = null;
    const stub = createServer((req, res) => {
      if (req.url?.startsWith('/v1/entitlements?')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ customer: 'cus_stub', user: 'stub-1', entitled: true, status: 'active', reason: 'subscribed', message: '', grace_until: null, subscription: null, card: null, update_card_url: null, checked_at: new Date(0).toISOString() }));
        return;
      }
      const id = req.headers['last-event-id'] ?? null;
      requests.push(typeof id === 'string' ? id : null);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (id !== null) return void res.end(': connected\n\n');
      res.write(`id: ${requests.length === 1 ? '7-0' : '9-0'}\nevent: ready\ndata: {"resumed":false}\n\n`);
      first ??= res;
    });
    const url = await listen(stub);
    const c = createEntitlementClient({ baseUrl: url, token: API_TOKEN, cache: { ttlMs: 10 * 60_000 }, live: { initialBackoffMs: 10, maxBackoffMs: 20, resumeAttempts: 3 } });
    try {
      await c.whenLive();
      assert.equal((await c.checkUser('stub-1')).source, 'network');
      assert.equal((await c.checkUser('stub-1')).source, 'cache');

      first!.end(); // the stream drops; every resume with its id now ends before ready
      await waitFor(() => requests.length === 5 && c.liveState === 'live', { message: 'the client to give up the id and go live' });

      assert.deepEqual(requests, [null, '7-0', '7-0', '7-0', null]);
      assert.equal(c.stats().size, 0, 'the cache was dropped');
      assert.equal((await c.checkUser('stub-1')).source, 'network');
    } finally {
      await c.close();
      stub.closeAllConnections();
      await new Promise((r) => stub.close(r));
    }
  });
});
