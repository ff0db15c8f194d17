/**
 * The Config a bench server runs with: what a publisher would set, read by the real config module, so the
 * servers are built by src/composition.ts exactly as production builds them.
 */
import { loadConfig, type Config } from '../../src/config.js';

export function benchConfig(env: Record<string, string | undefined>): Config {
  return loadConfig({
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_WEBHOOK_SECRET: 'whsec_bench_unused_0001',
    ENTITLEMENT_API_TOKENS: 'bench-unused-token-0000001',
    LOG_LEVEL: 'warn',
    ...env,
  });
}
