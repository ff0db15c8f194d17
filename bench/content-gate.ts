/**
 * `npm run bench:gate [-- --seconds N]`: entitlement checks per second the example content site sustains,
 * with the client cache (answers cached, changes invalidated over SSE) and without it (every page view
 * asks subgate), measured in one run on 127.0.0.1. Every article view is one `requireEntitlement` check;
 * load cycles over 200 signed-in subscribers. Subgate, its workers and both sites share this process
 * (as in `npm run demo`), so the figures compare the two client modes, not deployment throughput.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon, { type Result } from 'autocannon';
import { API_TOKEN } from '../test/support/harness.js';
import { seedSubscriber } from '../test/support/card-scenarios.js';
import { startDisposableRedis } from '../test/support/redis.js';
import { startContentGateStack } from '../examples/content-service/stack.js';
import { createContentSite } from '../examples/content-service/site.js';
import { createEntitlementClient, type EntitlementClient } from '@subgate/client';
import type { DemoReader } from '../examples/content-service/pages.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;
const READERS = 200;
const CONNECTIONS = 50;

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function load(url: string, readers: readonly DemoReader[], duration: number): Promise<Result> {
  let next = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'GET',
        path: '/articles/harbour-lights',
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: `demo_reader=${readers[next++ % readers.length]!.id}` } }),
      },
    ],
  });
}

const redis = await startDisposableRedis();
const stack = await startContentGateStack({ redisUrl: redis.url });
try {
  const readers: DemoReader[] = [];
  for (let i = 0; i < READERS; i++) {
    const id = `bench-reader-${i}`;
    await seedSubscriber(stack.h, { exp_month: 12, exp_year: 2035, user: id });
    readers.push({ id, name: `Reader ${i}`, blurb: '' });
  }

  const modes: Array<{ name: string; client: EntitlementClient }> = [
    { name: 'with client cache (TTL 30 s, live invalidation)', client: createEntitlementClient({ baseUrl: stack.subgateUrl, token: API_TOKEN, cache: { ttlMs: 30_000 } }) },
    { name: 'without cache (one subgate call per check)', client: createEntitlementClient({ baseUrl: stack.subgateUrl, token: API_TOKEN, cache: false }) },
  ];
  const rows: string[] = [];
  for (const mode of modes) {
    await mode.client.whenLive();
    const server = createServer(createContentSite({ entitlements: mode.client, readers }));
    const url = await listen(server);
    await load(url, readers, 2); // warm-up
    const result = await load(url, readers, seconds);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const stats = mode.client.stats();
    const ok = result['2xx'];
    rows.push(
      `| ${mode.name} | ${Math.round(ok / seconds).toLocaleString('en')} | ${result.latency.p50} | ${result.latency.p99} | ${result.non2xx + result.errors} | ${stats.hits.toLocaleString('en')} | ${stats.requests.toLocaleString('en')} |`,
    );
    await mode.client.close();
  }
  console.log(`\nContent gate, ${seconds} s per mode, ${CONNECTIONS} connections, ${READERS} readers, node ${process.version}\n`);
  console.log('| mode | checks/s (pages/s) | p50 ms | p99 ms | errors | cache hits | subgate calls |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
} finally {
  await stack.close();
  await redis.stop();
}
