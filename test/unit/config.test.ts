import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { MINIMAL_ENV, configFailureOf } from '../support/config-env.js';

const minimal = MINIMAL_ENV;
const failureOf = configFailureOf;

describe('config', () => {
  test('defaults fill everything that is not a secret', () => {
    const config = loadConfig(minimal);
    assert.equal(config.port, 3000);
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(config.cardExpiryNoticeDays, [30, 7]);
    assert.deepEqual(config.policy, { cardExpiredGraceDays: 0, pastDueGraceDays: 7 });
    assert.equal(config.userIdMetadataKey, 'user_id');
    assert.equal(config.stripe.rateLimitPerSecond, 20);
    assert.ok(Object.isFrozen(config));
  });

  test('the SIGTERM drain budget defaults to 25 s and must be at least a second', () => {
    assert.equal(loadConfig(minimal).shutdownTimeoutMs, 25_000);
    assert.equal(loadConfig({ ...minimal, SHUTDOWN_TIMEOUT_MS: '8000' }).shutdownTimeoutMs, 8000);
    for (const bad of ['500', '25s', '-1']) assert.equal(failureOf({ ...minimal, SHUTDOWN_TIMEOUT_MS: bad }).variable, 'SHUTDOWN_TIMEOUT_MS');
  });

  test('secrets have no defaults: a missing one is named', () => {
    for (const variable of Object.keys(minimal)) {
      const env: Record<string, string> = { ...minimal };
      delete env[variable];
      const err = failureOf(env);
      assert.equal(err.variable, variable);
      assert.match(err.message, new RegExp(`${variable} is required`));
    }
  });

  test('several webhook secrets, comma-separated, are all kept for rotation', () => {
    const config = loadConfig({ ...minimal, STRIPE_WEBHOOK_SECRET: 'whsec_oldsecret001, whsec_newsecret002' });
    assert.deepEqual(config.webhookSecrets, ['whsec_oldsecret001', 'whsec_newsecret002']);
  });

  test('a bad value stops start-up with one message naming the variable', () => {
    const cases: Array<[string, string]> = [
      ['PORT', 'eighty'],
      ['PORT', '70000'],
      ['REDIS_URL', 'http://localhost'],
      ['STRIPE_SECRET_KEY', 'pk_test_abc'],
      ['STRIPE_WEBHOOK_SECRET', 'not-a-secret'],
      ['ENTITLEMENT_API_TOKENS', 'short'],
      ['CARD_EXPIRY_NOTICE_DAYS', '30,x'],
      ['PAST_DUE_GRACE_DAYS', '-1'],
      ['STRIPE_API_BASE', 'ftp://x'],
      ['LINK_SIGNING_SECRET', 'too-short'],
    ];
    for (const [variable, value] of cases) {
      const err = failureOf({ ...minimal, [variable]: value });
      assert.equal(err.variable, variable, `${variable}=${value}`);
      assert.ok(!err.message.includes('\n'), 'one line');
    }
  });

  test('entitlement tokens: bare tokens keep every scope; name:scopes:token entries carry their own', () => {
    const config = loadConfig({
      ...minimal,
      ENTITLEMENT_API_TOKENS: 'legacy-bare-token-0001, site:check+feed:site-token-000000001, mailer:links:mail-token-00000001',
    });
    assert.deepEqual(
      config.entitlementTokens.map((t) => [t.name, [...t.scopes], t.token]),
      [
        ['token-1', ['check', 'links', 'feed'], 'legacy-bare-token-0001'],
        ['site', ['check', 'feed'], 'site-token-000000001'],
        ['mailer', ['links'], 'mail-token-00000001'],
      ],
    );
  });

  test('a bare token may contain colons; it is scoped only when the middle part names scopes', () => {
    const config = loadConfig({ ...minimal, ENTITLEMENT_API_TOKENS: 'a:b:c-not-scoped-token-0001' });
    assert.deepEqual([...config.entitlementTokens[0]!.scopes], ['check', 'links', 'feed']);
    assert.equal(config.entitlementTokens[0]!.token, 'a:b:c-not-scoped-token-0001');
  });

  test('a short scoped token, a repeated name or a repeated token stops start-up naming ENTITLEMENT_API_TOKENS', () => {
    for (const value of [
      'site:check:short',
      'site:check:site-token-000000001,site:feed:other-token-00000001',
      'a:check:same-token-0000000001,b:feed:same-token-0000000001',
    ]) {
      const err = failureOf({ ...minimal, ENTITLEMENT_API_TOKENS: value });
      assert.equal(err.variable, 'ENTITLEMENT_API_TOKENS', value);
      assert.doesNotMatch(err.message, /token-0000/, 'the message never echoes a token');
    }
  });

  test("the placeholders of .env.example stop start-up with one line saying so", () => {
    const key = failureOf({ ...minimal, STRIPE_SECRET_KEY: 'sk_test_replace_me' });
    assert.equal(key.variable, 'STRIPE_SECRET_KEY');
    assert.match(key.message, /placeholder/);
    assert.ok(!key.message.includes('\n'));
    assert.equal(failureOf({ ...minimal, STRIPE_WEBHOOK_SECRET: 'whsec_replace_me' }).variable, 'STRIPE_WEBHOOK_SECRET');
    // Against a local test double the key is never checked by Stripe.
    assert.equal(loadConfig({ ...minimal, STRIPE_SECRET_KEY: 'sk_test_replace_me', STRIPE_API_BASE: 'http://127.0.0.1:12111' }).stripe.secretKey, 'sk_test_replace_me');
  });

  test('the redis URL keeps its database index', () => {
    assert.equal(loadConfig({ ...minimal, REDIS_URL: 'redis://10.0.0.5:6380/3' }).redisUrl, 'redis://10.0.0.5:6380/3');
  });

  test('notice windows are de-duplicated and ordered furthest first', () => {
    assert.deepEqual(loadConfig({ ...minimal, CARD_EXPIRY_NOTICE_DAYS: '7, 30,7' }).cardExpiryNoticeDays, [30, 7]);
  });

  test('an empty value counts as unset', () => {
    assert.equal(loadConfig({ ...minimal, PORT: '' }).port, 3000);
  });
});

describe('config: features', () => {
  test('by default every subscription grants `content`, and the policy is as before', () => {
    const config = loadConfig(minimal);
    assert.equal(config.policy.features, undefined);
    assert.equal(config.productFeaturesTtlMs, 3_600_000);
  });

  test('config source: ACCESS_FEATURES is parsed; a malformed entry stops start-up naming it', () => {
    const config = loadConfig({ ...minimal, ACCESS_FEATURES_SOURCE: 'config', DEFAULT_FEATURE: 'news', ACCESS_FEATURES: 'news_monthly=news,prod_Puz123=puzzles,bundle_annual=news+puzzles+cooking' });
    assert.deepEqual(config.policy.features, {
      source: 'config',
      defaultFeature: 'news',
      map: { news_monthly: ['news'], prod_Puz123: ['puzzles'], bundle_annual: ['news', 'puzzles', 'cooking'] },
    });
    const bad = failureOf({ ...minimal, ACCESS_FEATURES_SOURCE: 'config', ACCESS_FEATURES: 'news_monthly=news,puzzles_only' });
    assert.equal(bad.variable, 'ACCESS_FEATURES');
    assert.match(bad.message, /"puzzles_only"/);
    assert.equal(failureOf({ ...minimal, ACCESS_FEATURES_SOURCE: 'config' }).variable, 'ACCESS_FEATURES');
    assert.equal(failureOf({ ...minimal, ACCESS_FEATURES: 'a=b' }).variable, 'ACCESS_FEATURES');
  });

  test('a bad source, default feature or TTL is named', () => {
    assert.equal(failureOf({ ...minimal, ACCESS_FEATURES_SOURCE: 'entitlements' }).variable, 'ACCESS_FEATURES_SOURCE');
    assert.equal(failureOf({ ...minimal, DEFAULT_FEATURE: 'News' }).variable, 'DEFAULT_FEATURE');
    assert.equal(failureOf({ ...minimal, PRODUCT_FEATURES_TTL_S: '5' }).variable, 'PRODUCT_FEATURES_TTL_S');
    assert.equal(loadConfig({ ...minimal, ACCESS_FEATURES_SOURCE: 'stripe', PRODUCT_FEATURES_TTL_S: '600' }).productFeaturesTtlMs, 600_000);
  });
});
