import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';

const minimal = {
  STRIPE_SECRET_KEY: 'sk_test_abc123',
  STRIPE_WEBHOOK_SECRET: 'whsec_testsecret0001',
  ENTITLEMENT_API_TOKENS: 'content-service-token-0001',
};

const failureOf = (env: Record<string, string>) => {
  try {
    loadConfig({ ...minimal, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted it');
};

describe('config: server limits, the metrics token and the update-card session budget', () => {
  test('defaults', () => {
    const config = loadConfig(minimal);
    assert.deepEqual(config.http, { maxConnections: 2000, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000 });
    assert.equal(config.metricsToken, undefined);
    assert.deepEqual(config.updateCardSessions, { limit: 3, windowMs: 10 * 60_000, reuseMs: 240_000 });
  });

  test('values are read', () => {
    const config = loadConfig({
      ...minimal,
      HTTP_MAX_CONNECTIONS: '500',
      ENTITLEMENT_FEED_MAX_CONNECTIONS: '400',
      HTTP_HEADERS_TIMEOUT_MS: '5000',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '620000',
      METRICS_TOKEN: 'prometheus-scrape-token-01',
      UPDATE_CARD_SESSION_LIMIT: '5',
      UPDATE_CARD_SESSION_WINDOW_MINUTES: '30',
      UPDATE_CARD_SESSION_REUSE_SECONDS: '0',
    });
    assert.deepEqual(config.http, { maxConnections: 500, headersTimeoutMs: 5000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 620_000 });
    assert.equal(config.metricsToken, 'prometheus-scrape-token-01');
    assert.deepEqual(config.updateCardSessions, { limit: 5, windowMs: 30 * 60_000, reuseMs: 0 });
  });

  test('a bad value names its variable', () => {
    for (const [variable, value] of [
      ['HTTP_MAX_CONNECTIONS', '0'],
      ['HTTP_HEADERS_TIMEOUT_MS', '10'],
      ['HTTP_KEEP_ALIVE_TIMEOUT_MS', 'forever'],
      ['METRICS_TOKEN', 'short'],
      ['UPDATE_CARD_SESSION_LIMIT', '0'],
      ['UPDATE_CARD_SESSION_REUSE_SECONDS', '301'],
    ] as const) {
      assert.equal(failureOf({ [variable]: value }).variable, variable, `${variable}=${value}`);
    }
  });

  test('headers must be allowed no longer than the whole request: the variable set is the one named', () => {
    assert.equal(failureOf({ HTTP_REQUEST_TIMEOUT_MS: '5000' }).variable, 'HTTP_REQUEST_TIMEOUT_MS');
    assert.equal(failureOf({ HTTP_HEADERS_TIMEOUT_MS: '40000' }).variable, 'HTTP_HEADERS_TIMEOUT_MS');
    assert.match(failureOf({ HTTP_REQUEST_TIMEOUT_MS: '5000' }).message, /HTTP_HEADERS_TIMEOUT_MS \(10000\) at most HTTP_REQUEST_TIMEOUT_MS \(5000\)/);
  });

  test('feed streams must leave connections for checks and webhooks: the variable set is the one named', () => {
    assert.equal(failureOf({ HTTP_MAX_CONNECTIONS: '1000' }).variable, 'HTTP_MAX_CONNECTIONS');
    assert.equal(failureOf({ ENTITLEMENT_FEED_MAX_CONNECTIONS: '2000' }).variable, 'ENTITLEMENT_FEED_MAX_CONNECTIONS');
    assert.match(failureOf({ HTTP_MAX_CONNECTIONS: '500' }).message, /below HTTP_MAX_CONNECTIONS \(500\)/);
  });
});
