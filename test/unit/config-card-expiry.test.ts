import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';

const minimal = {
  STRIPE_SECRET_KEY: 'sk_test_abc123',
  STRIPE_WEBHOOK_SECRET: 'whsec_testsecret0001',
  ENTITLEMENT_API_TOKENS: 'content-service-token-0001',
};

describe('config: card expiry and notices', () => {
  test('defaults', () => {
    const config = loadConfig(minimal);
    assert.equal(config.cardExpirySweepCron, '17 3 * * *');
    assert.equal(config.publisherName, 'Subscriptions');
    assert.equal(config.supportEmail, 'subscriptions@localhost', 'taken from NOTICE_FROM');
    assert.equal(config.publisherReturnUrl, undefined);
    assert.equal(config.updateCardLinkTtlDays, 14);
    assert.equal(config.noticeRateLimitPerSecond, 10);
    assert.equal(config.newCardRecovery, true);
    assert.equal(config.entitlementStreamMaxLength, 100_000);
  });

  test('values are read and switches understood', () => {
    const config = loadConfig({
      ...minimal,
      CARD_EXPIRY_SWEEP_CRON: '0 */6 * * *',
      PUBLISHER_NAME: 'The Gazette',
      SUPPORT_EMAIL: 'help@gazette.test',
      PUBLISHER_RETURN_URL: 'https://gazette.test/account',
      NEW_CARD_RECOVERY: 'off',
      NOTICE_RATE_LIMIT: '50',
    });
    assert.deepEqual(
      [config.cardExpirySweepCron, config.publisherName, config.supportEmail, config.publisherReturnUrl, config.newCardRecovery, config.noticeRateLimitPerSecond],
      ['0 */6 * * *', 'The Gazette', 'help@gazette.test', 'https://gazette.test/account', false, 50],
    );
  });

  test('a bad value names its variable', () => {
    for (const [variable, value] of [
      ['CARD_EXPIRY_SWEEP_CRON', 'daily'],
      ['SUPPORT_EMAIL', 'not-an-address'],
      ['PUBLISHER_RETURN_URL', 'javascript:alert(1)'],
      ['NEW_CARD_RECOVERY', 'maybe'],
      ['UPDATE_CARD_LINK_TTL_DAYS', '0'],
      ['NOTICE_RATE_LIMIT', '0'],
    ] as const) {
      assert.throws(() => loadConfig({ ...minimal, [variable]: value }), (err: unknown) => err instanceof ConfigError && err.variable === variable);
    }
  });
});
