/**
 * The orchestrator side of the expiry-sweep figure: per scale, a fresh measuring process
 * (bench/servers/subgate-sweep.ts) against a Redis it may flush, and, unless the stub is asked for, the
 * Stripe double here, holding every expired card, so Stripe's side of the re-read runs outside the
 * measured process as it does in production. Needs the servers built (buildServers).
 */
import { startStripeDouble, type StripeDouble } from '../../test/support/stripe-double.js';
import { cardPaymentMethodFixture } from '../../test/fixtures/stripe-objects.js';
import { sweepCard, sweepPopulation, type StripeReread, type SweepFigures } from './expiry-sweep.js';
import { startServer } from './server-process.js';

export interface SweepRun {
  /** A throwaway Redis: every scale flushes it. */
  redisUrl: string;
  subscribers: number;
  stripe: StripeReread;
  concurrency: number;
  timeoutMs: number;
  cpuProfileDir?: string;
}

export async function runExpirySweep(r: SweepRun): Promise<SweepFigures> {
  let double: StripeDouble | null = null;
  try {
    const env: Record<string, string> = { BENCH_REDIS_URL: r.redisUrl };
    if (r.stripe === 'double') {
      double = await startStripeDouble();
      for (const i of sweepPopulation(r.subscribers).expiredIndexes()) double.putPaymentMethod(cardPaymentMethodFixture(sweepCard(i, true)));
      env.STRIPE_API_BASE = double.url;
    }
    const child = await startServer('subgate-sweep', { env, ...(r.cpuProfileDir ? { cpuProfileDir: r.cpuProfileDir } : {}) });
    try {
      // Seeding 1,000,000 subscribers alone takes about a minute.
      const budget = r.timeoutMs + 60_000 + r.subscribers / 5;
      const figures = await child.request<SweepFigures>('run', { subscribers: r.subscribers, concurrency: r.concurrency, timeoutMs: r.timeoutMs }, budget);
      if (double) figures.stripeReads = double.count({ method: 'GET', path: /^\/v1\/payment_methods\// });
      return figures;
    } finally {
      await child.stop();
    }
  } finally {
    await double?.close();
  }
}
