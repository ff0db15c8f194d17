/**
 * `npx tsx bench/stripe-budget.ts [-- --customers N]`: Stripe calls per 1,000 events of the renewal mix
 * (bench/lib/renewal-budget.ts), burst and spread, on a throwaway Redis.
 */
import { startDisposableRedis } from '../test/support/redis.js';
import { measureRenewalBudget } from './lib/renewal-budget.js';

const arg = process.argv.indexOf('--customers');
const customers = arg > 0 ? Number(process.argv[arg + 1]) : 143;
const redis = await startDisposableRedis();
try {
  for (const pattern of ['burst', 'spread'] as const) {
    const f = await measureRenewalBudget({ redisUrl: redis.url, customers, pattern, debounceMs: 500 });
    console.log(`${pattern}: ${f.events} events -> ${f.stripeRequests} Stripe requests = ${f.perThousandEvents.toFixed(0)} per 1,000 events ${JSON.stringify(f.byRoute)}`);
  }
} finally {
  await redis.stop();
}
process.exit(0);
