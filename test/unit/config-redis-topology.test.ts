import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { MINIMAL_ENV, configFailureOf } from '../support/config-env.js';

const minimal = MINIMAL_ENV;
const failureOf = configFailureOf;

describe('config: where Redis is', () => {
  test('by default one server, no replica acknowledgement', () => {
    const { redis } = loadConfig(minimal);
    assert.deepEqual(redis, { url: 'redis://127.0.0.1:6379', clusterNodes: null, sentinels: null, sentinelName: null, ackReplicas: 0, ackTimeoutMs: 500 });
  });

  test('REDIS_CLUSTER_NODES: seed nodes as host:port, names and [IPv6] included', () => {
    const { redis } = loadConfig({ ...minimal, REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[::1]:7002', REDIS_URL: 'rediss://app:s3cret@ignored:1' });
    assert.deepEqual(redis.clusterNodes, [
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    assert.equal(redis.url, 'rediss://app:s3cret@ignored:1', 'the URL still carries user, password and TLS');
  });

  test('a bad node, an empty list or a db index on a cluster is named', () => {
    for (const bad of ['10.0.0.1', 'host:port', 'h:70000', ',']) {
      assert.equal(failureOf({ ...minimal, REDIS_CLUSTER_NODES: bad }).variable, 'REDIS_CLUSTER_NODES', bad);
    }
    assert.equal(failureOf({ ...minimal, REDIS_CLUSTER_NODES: 'h:7000', REDIS_URL: 'redis://h:7000/2' }).variable, 'REDIS_URL');
  });

  test('REDIS_SENTINELS needs REDIS_SENTINEL_NAME and the other way round, and excludes a cluster', () => {
    const { redis } = loadConfig({ ...minimal, REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'subgate-primary' });
    assert.deepEqual(redis.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
    ]);
    assert.equal(redis.sentinelName, 'subgate-primary');
    assert.equal(failureOf({ ...minimal, REDIS_SENTINELS: 's1:26379' }).variable, 'REDIS_SENTINEL_NAME');
    assert.equal(failureOf({ ...minimal, REDIS_SENTINEL_NAME: 'x' }).variable, 'REDIS_SENTINELS');
    assert.equal(failureOf({ ...minimal, REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'bad name' }).variable, 'REDIS_SENTINEL_NAME');
    assert.equal(failureOf({ ...minimal, REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'h:7000' }).variable, 'REDIS_SENTINELS');
  });

  test('REDIS_ACK_REPLICAS and REDIS_ACK_TIMEOUT_MS are bounded whole numbers', () => {
    const { redis } = loadConfig({ ...minimal, REDIS_ACK_REPLICAS: '1', REDIS_ACK_TIMEOUT_MS: '250' });
    assert.equal(redis.ackReplicas, 1);
    assert.equal(redis.ackTimeoutMs, 250);
    for (const bad of ['-1', 'one', '17']) assert.equal(failureOf({ ...minimal, REDIS_ACK_REPLICAS: bad }).variable, 'REDIS_ACK_REPLICAS');
    for (const bad of ['5', '1.5', '1001']) assert.equal(failureOf({ ...minimal, REDIS_ACK_TIMEOUT_MS: bad }).variable, 'REDIS_ACK_TIMEOUT_MS');
  });
});

describe('reconnect policy', async () => {
  const { createReconnectPolicy } = await import('../../src/store/redis-connections.js');
  test('failover replies reconnect and back off to 5 s; other errors do not', () => {
    let now = 0;
    const worker = createReconnectPolicy('worker', () => now);
    assert.equal(worker.reconnectOnError(new Error('ERR wrong number of arguments')), false);
    assert.equal(worker.reconnectOnError(new Error("READONLY You can't write against a read only replica.")), 1);
    assert.equal(createReconnectPolicy('fail-fast').reconnectOnError(new Error('LOADING Redis is loading the dataset in memory')), 1);
    const waits = [worker.retryStrategy(1)];
    for (let i = 0; i < 8; i++) {
      now += 100;
      worker.reconnectOnError(new Error('READONLY'));
      waits.push(worker.retryStrategy(1));
    }
    for (let i = 1; i < waits.length; i++) assert.ok(waits[i]! >= waits[i - 1]! - 100, `waits grow: ${waits.join(',')}`);
    assert.ok(waits.at(-1)! >= 5000 && waits.at(-1)! <= 5100, `capped at 5 s: ${waits.join(',')}`);
    now += 31_000;
    worker.reconnectOnError(new Error('READONLY'));
    assert.ok(worker.retryStrategy(1) <= 300, 'a quiet spell forgets the streak');
  });
});
