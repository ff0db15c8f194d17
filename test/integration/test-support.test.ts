import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import {
  cleanupPrefix,
  createTestRedis,
  hasRedisServerBinary,
  startDisposableRedis,
  uniquePrefix,
  waitFor,
} from '../support/redis.js';

describe('test support: shared redis', () => {
  let redis: Redis;
  before(() => {
    redis = createTestRedis();
  });
  after(async () => {
    await redis.quit();
  });

  test('uniquePrefix is unique and colon-free', () => {
    const a = uniquePrefix('some:label with spaces');
    const b = uniquePrefix('some:label with spaces');
    assert.notEqual(a, b);
    assert.match(a, /^t-[A-Za-z0-9_-]+$/);
  });

  test('cleanupPrefix deletes only keys under `${prefix}:`', async () => {
    const prefix = uniquePrefix('cleanup');
    const other = uniquePrefix('other');
    const lookalike = `${prefix}x:kept`; // shares the text prefix but not the `${prefix}:` namespace
    try {
      for (let i = 0; i < 1200; i++) await redis.set(`${prefix}:k:${i}`, '1');
      await redis.hset(`${prefix}:hash`, 'f', 'v');
      await redis.set(`${other}:kept`, '1');
      await redis.set(lookalike, '1');
      await redis.set(prefix, 'bare key is not under the namespace');

      assert.equal(await cleanupPrefix(redis, prefix), 1201);
      assert.deepEqual(await redis.keys(`${prefix}:*`), []);
      assert.equal(await redis.exists(`${other}:kept`, lookalike, prefix), 3);
    } finally {
      await redis.del(`${other}:kept`, lookalike, prefix);
      await cleanupPrefix(redis, prefix);
    }
  });

  test('cleanupPrefix treats glob characters in the prefix literally', async () => {
    const base = uniquePrefix('glob');
    try {
      await redis.set(`${base}-a:k`, '1');
      assert.equal(await cleanupPrefix(redis, `${base}-*`), 0);
      assert.equal(await redis.exists(`${base}-a:k`), 1);
    } finally {
      await redis.del(`${base}-a:k`);
    }
  });

  test('waitFor returns the truthy value, retries throwing predicates, and times out with the message', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls++;
        if (calls < 3) throw new Error('not yet');
        return calls;
      },
      { intervalMs: 1 },
    );
    assert.equal(value, 3);
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 50, intervalMs: 5, message: 'never true' }),
      /timed out after 50ms: never true/,
    );
  });
});

describe('test support: disposable redis', { skip: !hasRedisServerBinary() && 'no redis-server binary' }, () => {
  test('stop makes it unreachable and restart brings it back on the same port', async () => {
    const server = await startDisposableRedis();
    const client = createTestRedis({ url: server.url, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    try {
      assert.equal(await client.ping(), 'PONG');
      await client.set('k', 'v');

      await server.stop();
      await assert.rejects(client.ping());

      await server.restart();
      // The client reconnects by itself; data is gone (no persistence).
      await waitFor(() => client.ping().then((r) => r === 'PONG'), { message: 'client reconnects after restart' });
      assert.equal(await client.get('k'), null);
      assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    } finally {
      client.disconnect();
      await server.stop();
      await server.stop(); // idempotent
    }
  });

  test('with appendOnly, a kill -9 and a restart on the same data keep every acknowledged write', async () => {
    const server = await startDisposableRedis({ appendOnly: true });
    const client = createTestRedis({ url: server.url, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    try {
      await client.set('k', 'kept');
      await server.crash();
      await assert.rejects(client.ping());
      await server.restart({ keepData: true });
      await waitFor(() => client.ping().then((r) => r === 'PONG'), { message: 'client reconnects after restart' });
      assert.equal(await client.get('k'), 'kept');

      // SIGSTOP freezes it (commands wait), SIGCONT thaws it.
      server.pause();
      const frozen = client.get('k');
      server.resume();
      assert.equal(await frozen, 'kept');
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
