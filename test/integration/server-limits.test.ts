/**
 * The API server's connection limits on a real listening socket, with raw TCP clients doing what hostile
 * ones do: trickle headers, never finish a body, open more connections than allowed. Small limits make
 * each outcome come quickly; the tests assert the outcome (closed, 408, refused), never a duration.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { API_TOKEN, createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/redis.js';
import { applyServerLimits, type ServerLimits } from '../../src/http/server-limits.js';

const LIMITS: ServerLimits = { maxConnections: 4, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 10_000 };

interface RawClient {
  socket: Socket;
  received: () => string;
  closed: () => boolean;
}

function rawClient(port: number): RawClient {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined); // a refused or reset connection is an outcome here, not a failure
  return { socket, received: () => data, closed: () => closed };
}

const responses = (text: string) => text.split('HTTP/1.1 ').slice(1).map((part) => Number(part.slice(0, 3)));

describe('server limits', () => {
  let h: Harness;
  const servers: Server[] = [];
  const clients: RawClient[] = [];

  async function listen(): Promise<number> {
    const server = applyServerLimits(createServer(h.app), LIMITS);
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }
  const client = (port: number) => {
    const c = rawClient(port);
    clients.push(c);
    return c;
  };

  before(async () => {
    h = await createHarness({ label: 'server-limits', workers: false, eventsHeartbeatMs: 50 });
  });
  after(async () => {
    for (const c of clients) c.socket.destroy();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await h.close();
  });

  test('a slowloris client sending its headers byte by byte has its connection closed before it finishes', async () => {
    const port = await listen();
    const c = client(port);
    await once(c.socket, 'connect');
    const headers = `GET /healthz HTTP/1.1\r\nHost: subgate.test\r\nX-Padding: ${'a'.repeat(600)}\r\n\r\n`;
    let sent = 0;
    // The client's behaviour, not a synchronisation: one byte every 10 ms, as long as the server lets it.
    const trickle = setInterval(() => {
      if (c.closed() || sent >= headers.length) return clearInterval(trickle);
      c.socket.write(headers[sent++]!);
    }, 10);
    try {
      await waitFor(() => c.closed() || sent >= headers.length, { timeoutMs: 15_000, message: 'the trickle to end' });
    } finally {
      clearInterval(trickle);
    }
    assert.ok(c.closed(), 'the server closed the connection');
    assert.ok(sent < headers.length, `closed after ${sent} of ${headers.length} header bytes`);
    assert.deepEqual(responses(c.received()), [408]);
  });

  test('a client that sends its headers and never finishes the body gets a 408 and the socket closed', async () => {
    const port = await listen();
    const c = client(port);
    await once(c.socket, 'connect');
    c.socket.write('POST /webhooks/stripe HTTP/1.1\r\nHost: subgate.test\r\nContent-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: 1000\r\n\r\n{"id":');
    await waitFor(() => c.closed(), { timeoutMs: 10_000, message: 'the server to close the connection' });
    assert.deepEqual(responses(c.received()), [408]);
  });

  test('a connection beyond maxConnections is refused while the open ones keep working', async () => {
    const port = await listen();
    const get = (c: RawClient) => c.socket.write('GET /healthz HTTP/1.1\r\nHost: subgate.test\r\n\r\n');
    const open = Array.from({ length: LIMITS.maxConnections }, () => client(port));
    for (const c of open) {
      await once(c.socket, 'connect');
      get(c);
    }
    await waitFor(() => open.every((c) => responses(c.received()).length === 1), { message: 'the allowed connections to be answered' });

    const extra = client(port);
    get(extra);
    await waitFor(() => extra.closed(), { message: 'the extra connection to be closed' });
    assert.equal(extra.received(), '', 'the extra connection got no answer');

    for (const c of open) get(c);
    await waitFor(() => open.every((c) => responses(c.received()).length === 2), { message: 'second answers on the open connections' });
    assert.ok(open.every((c) => !c.closed() && responses(c.received()).every((status) => status === 200)));

    // A slot freed is a slot usable again.
    const server = servers.at(-1)!;
    open[0]!.socket.destroy();
    await waitFor(
      () => new Promise<boolean>((resolve) => server.getConnections((_err, count) => resolve(count < LIMITS.maxConnections))),
      { message: 'the server to see the slot freed' },
    );
    const next = client(port);
    get(next);
    await waitFor(() => responses(next.received()).includes(200) || next.closed(), { message: 'the new connection to be answered' });
    assert.deepEqual(responses(next.received()), [200]);
  });

  test('a change-feed connection outlives requestTimeout: Node stops timing a request once it is received', async () => {
    const port = await listen();
    const feed = client(port);
    await once(feed.socket, 'connect');
    feed.socket.write(`GET /v1/entitlements/events HTTP/1.1\r\nHost: subgate.test\r\nAuthorization: Bearer ${API_TOKEN}\r\n\r\n`);
    await waitFor(() => feed.received().includes(': connected'), { message: 'the feed to open' });

    // Witness: a request started after the feed, timed out by requestTimeout. When it has its 408, the
    // feed's own request is older than requestTimeout and the server's timeout check has run over it.
    const slow = client(port);
    await once(slow.socket, 'connect');
    slow.socket.write('POST /webhooks/stripe HTTP/1.1\r\nHost: subgate.test\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: 50\r\n\r\n{');
    await waitFor(() => slow.closed(), { timeoutMs: 10_000, message: 'the witness request to time out' });
    assert.deepEqual(responses(slow.received()), [408]);

    const seen = feed.received().length;
    await waitFor(() => feed.received().length > seen, { message: 'the feed to keep streaming' });
    assert.ok(!feed.closed(), 'the feed connection is still open');
    assert.deepEqual(responses(feed.received()), [200]);
    assert.match(feed.received().slice(seen), /: keep-alive/);
  });
});
