import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';

const minimal = {
  STRIPE_SECRET_KEY: 'sk_test_abc123',
  STRIPE_WEBHOOK_SECRET: 'whsec_testsecret0001',
  ENTITLEMENT_API_TOKENS: 'content-service-token-0001',
};

describe('config: the change feed', () => {
  test('defaults: 10,000 entries of replay, 50 streams per token, 1,000 per process', () => {
    assert.deepEqual(loadConfig(minimal).feed, { maxReplay: 10_000, maxConnectionsPerToken: 50, maxConnections: 1_000 });
  });

  test('values are read (a max replay of 0 resets every resume that has anything to replay)', () => {
    const config = loadConfig({
      ...minimal,
      ENTITLEMENT_FEED_MAX_REPLAY: '0',
      ENTITLEMENT_FEED_MAX_CONNECTIONS_PER_TOKEN: '5',
      ENTITLEMENT_FEED_MAX_CONNECTIONS: '20',
    });
    assert.deepEqual(config.feed, { maxReplay: 0, maxConnectionsPerToken: 5, maxConnections: 20 });
    assert.ok(Object.isFrozen(config.feed));
  });

  test('a bad value names its variable', () => {
    for (const [variable, value] of [
      ['ENTITLEMENT_FEED_MAX_REPLAY', '-1'],
      ['ENTITLEMENT_FEED_MAX_REPLAY', 'lots'],
      ['ENTITLEMENT_FEED_MAX_CONNECTIONS_PER_TOKEN', '0'],
      ['ENTITLEMENT_FEED_MAX_CONNECTIONS', '0'],
      ['ENTITLEMENT_FEED_MAX_CONNECTIONS', '2.5'],
    ] as const) {
      assert.throws(() => loadConfig({ ...minimal, [variable]: value }), (err: unknown) => err instanceof ConfigError && err.variable === variable, `${variable}=${value}`);
    }
  });
});
