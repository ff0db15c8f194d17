/**
 * The drain every entry point runs on SIGTERM, against a real node:http server and a keep-alive client
 * (as Stripe's deliveries and load balancers use). The fault suite (`npm run test:faults`) holds the
 * same promise with the real processes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpDrain, createShutdown } from '../../src/drain.js';
import { createSilentLogger } from '../../src/logger.js';
import { waitFor } from '../support/redis.js';

type Answer = { status: number; connection: string | undefined } | { error: string };

function post(port: number, agent: Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/webhooks/stripe', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end('{}');
  });
}

/** A server whose requests wait until the test releases them, so one can be in flight when the drain begins. */
async function holdingServer(): Promise<{ server: Server; port: number; held: ServerResponse[]; received: () => number }> {
  const held: ServerResponse[] = [];
  let received = 0;
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    received += 1;
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, held, received: () => received };
}

const release = (res: ServerResponse) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');

describe('http drain', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.closeAllConnections();
  });

  test('with a keep-alive client, the in-flight answer closes its connection and nothing after it is answered', async () => {
    const { server, port, held, received } = await holdingServer();
    servers.push(server);
    const drain = createHttpDrain(server);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });

    // The connection is warm: one answer with keep-alive, then a request in flight on the same socket.
    const warm = post(port, agent);
    await waitFor(() => held.length === 1, { message: 'first request' });
    release(held[0]!);
    assert.deepEqual(await warm, { status: 200, connection: 'keep-alive' });
    const inFlight = post(port, agent);
    await waitFor(() => held.length === 2, { message: 'second request' });

    const drained = drain(5_000);
    release(held[1]!);
    assert.deepEqual(await inFlight, { status: 200, connection: 'close' });
    const afterDrain = await post(port, agent);
    assert.ok('error' in afterDrain, `a request after the drain began was answered: ${JSON.stringify(afterDrain)}`);
    assert.deepEqual(await drained, { inFlight: 1, answered: 1, cut: 0 });
    assert.equal(received(), 2);
    agent.destroy();
  });

  test('an idle keep-alive socket is closed at once, so the drain does not wait for the client', async () => {
    const { server, port, held } = await holdingServer();
    servers.push(server);
    const drain = createHttpDrain(server);
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const warm = post(port, agent);
    await waitFor(() => held.length === 1, { message: 'request' });
    release(held[0]!);
    await warm;

    assert.deepEqual(await drain(60_000), { inFlight: 0, answered: 0, cut: 0 });
    agent.destroy();
  });

  test('a request still unanswered at the limit is cut (no answer at all), and the drain resolves', async () => {
    const { server, port, held } = await holdingServer();
    servers.push(server);
    const drain = createHttpDrain(server);
    const stuck = post(port, new Agent({ keepAlive: true }));
    await waitFor(() => held.length === 1, { message: 'stuck request' });

    assert.deepEqual(await drain(100), { inFlight: 1, answered: 0, cut: 1 });
    assert.ok('error' in (await stuck), 'the cut request got no answer');
    assert.equal(drain(100), drain(100), 'draining twice is the same drain');
  });
});

describe('shutdown steps', () => {
  test('every step runs in order even when one throws or is still running at its limit', async () => {
    const ran: string[] = [];
    const shutdown = createShutdown(
      [
        { name: 'stuck', run: () => new Promise(() => ran.push('stuck')), limitMs: 50 },
        {
          name: 'throws',
          run: () => {
            ran.push('throws');
            throw new Error('boom');
          },
        },
        { name: 'redis', run: async () => ran.push('redis') },
      ],
      createSilentLogger(),
    );
    assert.deepEqual(await shutdown(), { cut: ['stuck'], failed: ['throws'] });
    assert.deepEqual(ran, ['stuck', 'throws', 'redis']);
    assert.equal(shutdown(), shutdown(), 'a second signal joins the running shutdown');
  });
});
