/** The smallest environment loadConfig accepts, and the ConfigError a bad one stops start-up with. */
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';

export const MINIMAL_ENV = {
  STRIPE_SECRET_KEY: 'sk_test_abc123',
  STRIPE_WEBHOOK_SECRET: 'whsec_testsecret0001',
  ENTITLEMENT_API_TOKENS: 'content-service-token-0001',
} as const;

/** The error loadConfig(env) throws; fails the test when it accepts env. */
export function configFailureOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, 'expected a ConfigError');
    return err;
  }
  assert.fail('loadConfig accepted a bad environment');
}
