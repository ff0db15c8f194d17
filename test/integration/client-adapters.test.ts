/**
 * The same answers everywhere: one suite of paywall cases, run against the Express middleware, the Fastify
 * hook and the framework-free gate (behind a Web-standard `(Request) => Response` handler), each serving
 * a gated article over real HTTP and rendering the decision it was handed. Subgate is real and listening;
 * the readers are real subscribers in the Stripe double. Every adapter must give each case the expected
 * decision, and all adapters the very same one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { createEntitlementClient, createGate, EntitlementClientError, type EntitlementClient, type GateDecision } from '@subgate/client';
import { requireEntitlement } from '@subgate/client/express';
import { entitlementHook } from '@subgate/client/fastify';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { seedSubscriber, settleExpiry } from '../support/card-scenarios.js';

/** The three ways of asking, each mounted by every adapter at /<kind>/articles/:slug. */
type ClientKind = 'live' | 'down' | 'down-stale';
type Clients = Record<ClientKind, EntitlementClient>;

/** What a paywall page is built from: the decision, as each adapter's route renders it. */
const render = (d: GateDecision | undefined) =>
  d === undefined
    ? { missing: true }
    : { entitled: d.entitled, status: d.status, source: d.source, update_card_url: d.update_card_url, message: 'message' in d ? d.message : null };

const readerOf = (header: string | string[] | undefined | null) => (typeof header === 'string' && header !== '' ? header : null);
const misuse = (err: unknown) => ({ error: err instanceof EntitlementClientError ? err.code : 'unexpected' });

interface Adapter {
  name: string;
  /** Serves the gated article on 127.0.0.1; resolves to its base URL and a stop function. */
  start(clients: Clients): Promise<{ url: string; stop(): Promise<void> }>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const stopServer = (server: Server) => async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
};

const ADAPTERS: Adapter[] = [
  {
    name: 'express',
    async start(clients) {
      const app = express();
      for (const [kind, client] of Object.entries(clients)) {
        app.get(`/${kind}/articles/:slug`, requireEntitlement({ client, getUserId: (req) => readerOf(req.headers['x-reader']) }), (req, res) => {
          res.json(render(req.entitlement));
        });
      }
      app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(500).json(misuse(err));
      });
      const server = createServer(app);
      return { url: await listen(server), stop: stopServer(server) };
    },
  },
  {
    name: 'fastify',
    async start(clients) {
      const app: FastifyInstance = Fastify();
      for (const [kind, client] of Object.entries(clients)) {
        const preHandler = entitlementHook({ client, getUserId: (request) => readerOf(request.headers['x-reader']) });
        app.get(`/${kind}/articles/:slug`, { preHandler }, async (request) => render(request.entitlement));
      }
      app.setErrorHandler((err, _request, reply) => reply.status(500).send(misuse(err)));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, stop: () => app.close() };
    },
  },
  {
    // What a Worker, a Next.js route handler or any Fetch-API server does: a gate over Web Requests.
    name: 'createGate (Web Request)',
    async start(clients) {
      const gates = new Map(
        Object.entries(clients).map(([kind, client]) => [kind, createGate<Request>({ client, getUserId: (request) => readerOf(request.headers.get('x-reader')) })]),
      );
      const handle = async (request: Request): Promise<Response> => {
        const match = /^\/([a-z-]+)\/articles\/[^/]+$/.exec(new URL(request.url).pathname);
        const gate = match ? gates.get(match[1]!) : undefined;
        if (!gate) return Response.json({ error: 'not_found' }, { status: 404 });
        try {
          return Response.json(render(await gate(request)));
        } catch (err) {
          return Response.json(misuse(err), { status: 500 });
        }
      };
      // node:http in front of the Fetch-API handler, as a Web-standard server would call it.
      const server = createServer((req: IncomingMessage, res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
        void handle(new Request(`http://${req.headers.host}${req.url}`, { headers })).then(async (response) => {
          res.writeHead(response.status, Object.fromEntries(response.headers));
          res.end(Buffer.from(await response.arrayBuffer()));
        });
      });
      return { url: await listen(server), stop: stopServer(server) };
    },
  },
];

describe('the same paywall answers from Express, Fastify and the framework-free gate', () => {
  let h: Harness;
  let subgate: Server;
  let baseUrl: string;
  let clients: Clients;
  const outage = { down: false };
  const readers = { entitled: '', cardExpired: '', paymentFailed: '' };
  const running: Array<{ name: string; url: string; stop(): Promise<void> }> = [];

  before(async () => {
    h = await createHarness({ label: 'client-adapters', cardExpiry: {} });
    subgate = createServer(h.app);
    baseUrl = await listen(subgate);

    readers.entitled = `${h.prefix}-entitled`;
    readers.cardExpired = `${h.prefix}-card-expired`;
    readers.paymentFailed = `${h.prefix}-payment-failed`;
    await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: readers.entitled });
    // The harness's clock is now; this card ran out last year and the policy gives no grace.
    const lastYear = new Date(h.clock.now()).getUTCFullYear() - 1;
    await seedSubscriber(h, { exp_month: 1, exp_year: lastYear, user: readers.cardExpired });
    await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: readers.paymentFailed, status: 'past_due', openInvoice: true, invoiceAgeDays: 30 });
    await settleExpiry(h);

    // Subgate as the down clients see it: reachable until the outage starts, then refused.
    const switchable: typeof fetch = async (input, init) => {
      if (outage.down) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    // A TTL of 0: every ask goes to subgate, so during the outage the last known answer is all there is.
    clients = {
      live: createEntitlementClient({ baseUrl, token: API_TOKEN, cache: false }),
      down: createEntitlementClient({ baseUrl, token: API_TOKEN, live: false, cache: { ttlMs: 0 }, fetch: switchable }),
      'down-stale': createEntitlementClient({ baseUrl, token: API_TOKEN, live: false, cache: { ttlMs: 0 }, staleIfErrorMs: 10 * 60_000, fetch: switchable }),
    };
    // Both down clients knew the entitled reader before the outage.
    for (const kind of ['down', 'down-stale'] as const) assert.equal((await clients[kind].checkUser(readers.entitled)).entitled, true);
    outage.down = true;

    for (const adapter of ADAPTERS) running.push({ name: adapter.name, ...(await adapter.start(clients)) });
  });

  after(async () => {
    for (const server of running) await server.stop();
    await Promise.all(Object.values(clients ?? {}).map((c) => c.close()));
    await stopServer(subgate)();
    await h.close();
  });

  const UPDATE_LINK = /^http:\/\/subgate\.test\/billing\/update-card\?token=/;
  const CASES: Array<{
    name: string;
    kind: ClientKind;
    reader: () => string | null;
    status: number;
    expect: (body: Record<string, unknown>) => void;
  }> = [
    {
      name: 'anonymous: nobody signed in, subgate not asked',
      kind: 'live',
      reader: () => null,
      status: 200,
      expect: (b) => assert.deepEqual(b, { entitled: false, status: 'anonymous', source: 'none', update_card_url: null, message: null }),
    },
    {
      name: 'entitled: an active subscriber reads',
      kind: 'live',
      reader: () => readers.entitled,
      status: 200,
      expect: (b) => assert.deepEqual(b, { entitled: true, status: 'active', source: 'network', update_card_url: null, message: 'Your subscription is active.' }),
    },
    {
      name: 'card_expired, with the link to update the card',
      kind: 'live',
      reader: () => readers.cardExpired,
      status: 200,
      expect: (b) => {
        assert.deepEqual({ ...b, update_card_url: null }, { entitled: false, status: 'card_expired', source: 'network', update_card_url: null, message: 'Your card on file has expired. Make sure your card on file is up to date to keep reading.' });
        assert.match(String(b.update_card_url), UPDATE_LINK);
      },
    },
    {
      name: 'payment_failed, with the link to update the card',
      kind: 'live',
      reader: () => readers.paymentFailed,
      status: 200,
      expect: (b) => {
        assert.deepEqual({ ...b, update_card_url: null }, { entitled: false, status: 'payment_failed', source: 'network', update_card_url: null, message: 'Your last payment failed. Make sure your card on file is up to date to keep reading.' });
        assert.match(String(b.update_card_url), UPDATE_LINK);
      },
    },
    {
      name: 'unavailable without stale-if-error: fail closed, although the reader was entitled a moment ago',
      kind: 'down',
      reader: () => readers.entitled,
      status: 200,
      expect: (b) =>
        assert.deepEqual(b, { entitled: false, status: 'unavailable', source: 'unavailable', update_card_url: null, message: 'We could not check your subscription just now. Please try again in a moment.' }),
    },
    {
      name: 'unavailable with stale-if-error: the last known answer, marked stale',
      kind: 'down-stale',
      reader: () => readers.entitled,
      status: 200,
      expect: (b) => assert.deepEqual(b, { entitled: true, status: 'active', source: 'stale', update_card_url: null, message: 'Your subscription is active.' }),
    },
    {
      name: 'unavailable with stale-if-error, for a reader never seen: fail closed',
      kind: 'down-stale',
      reader: () => readers.paymentFailed,
      status: 200,
      expect: (b) => assert.deepEqual({ entitled: b.entitled, status: b.status, source: b.source }, { entitled: false, status: 'unavailable', source: 'unavailable' }),
    },
    {
      name: "a misuse (an id subgate refuses) reaches the framework's error handling as EntitlementClientError",
      kind: 'live',
      reader: () => 'x'.repeat(257),
      status: 500,
      expect: (b) => assert.deepEqual(b, { error: 'invalid_user' }),
    },
  ];

  for (const c of CASES) {
    test(c.name, async () => {
      const bodies: Array<Record<string, unknown>> = [];
      for (const server of running) {
        const reader = c.reader();
        const res = await fetch(`${server.url}/${c.kind}/articles/the-story`, { headers: reader === null ? {} : { 'x-reader': reader } });
        const body = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, c.status, `${server.name}: HTTP ${res.status} ${JSON.stringify(body)}`);
        try {
          c.expect(body);
        } catch (err) {
          throw new Error(`${server.name}: ${(err as Error).message}`);
        }
        bodies.push(body);
      }
      assert.equal(bodies.length, ADAPTERS.length);
      // The update link is signed per request time; everything else must be identical across adapters.
      const comparable = bodies.map((b) => ({ ...b, update_card_url: typeof b.update_card_url === 'string' ? 'link' : b.update_card_url }));
      for (const body of comparable.slice(1)) assert.deepEqual(body, comparable[0]);
    });
  }
});
