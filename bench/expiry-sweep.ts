/**
 * Bench of the card-expiry safety net on its own: 10,000 expired cards among 10,000 subscribers, then among
 * 1,000,000; the time from the daily sweep job being queued to the 10,000th card flagged, through the real
 * sweep and card-expiry processor, in a compiled child process (bench/lib/expiry-sweep.ts; `npm run bench`
 * runs the same figure). Each scale runs on a throwaway redis-server (or REDIS_URL's db, which is flushed:
 * give it a spare one).
 *
 *   npm run bench:sweep                          both scales, Stripe re-read from the local Stripe double
 *   npm run bench:sweep -- 10000                 one scale (subscriber count)
 *   npm run bench:sweep -- --stub                re-read Stripe from an in-process stub instead
 *   npm run bench:sweep -- --concurrency=8       card-expiry worker concurrency (default 64)
 *   npm run bench:sweep -- --profile             a `--cpu-prof` of the sweep process in bench/tmp/profiles
 */
import { join } from 'node:path';
import { startDisposableRedis, type DisposableRedis } from '../test/support/redis.js';
import { SWEEP_EXPIRED, describeSweep, sweepProblems, type SweepFigures } from './lib/expiry-sweep.js';
import { runExpirySweep } from './lib/sweep-runner.js';
import { buildServers, REPO_ROOT } from './lib/server-process.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const scales = args.map(Number).filter((n) => Number.isInteger(n) && n >= SWEEP_EXPIRED);
  const plan = scales.length > 0 ? scales : [10_000, 1_000_000];
  const stripe = args.includes('--stub') ? 'stub' : 'double';
  const concurrency = Number(/^--concurrency=(\d+)$/.exec(args.find((a) => a.startsWith('--concurrency=')) ?? '')?.[1] ?? 64);
  buildServers();
  let disposable: DisposableRedis | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    disposable = await startDisposableRedis();
    url = disposable.url;
  }
  const problems: string[] = [];
  try {
    const rows: SweepFigures[] = [];
    for (const subscribers of plan) {
      console.error(`expiry sweep: ${subscribers.toLocaleString('en-US')} subscribers`);
      const figures = await runExpirySweep({
        redisUrl: url,
        subscribers,
        stripe,
        concurrency,
        timeoutMs: 120_000,
        ...(args.includes('--profile') ? { cpuProfileDir: join(REPO_ROOT, 'bench', 'tmp', 'profiles') } : {}),
      });
      rows.push(figures);
      problems.push(...sweepProblems(figures));
      console.log(describeSweep(figures));
    }
    console.table(
      rows.map((r) => ({
        subscribers: r.subscribers,
        'seed (s)': +(r.seedMs / 1000).toFixed(1),
        'index size': r.indexSize,
        'customers read': r.sweep?.customers ?? 0,
        'sweep job done (s)': +(r.sweepDoneMs / 1000).toFixed(2),
        'all flagged (s)': +(r.totalMs / 1000).toFixed(2),
        'flags/s': Math.round(r.flagged / (r.totalMs / 1000)),
        'redis memory': r.redisUsedMemory,
      })),
    );
    if (rows.length > 1) console.log(`ratio ${rows.at(-1)!.subscribers} / ${rows[0]!.subscribers}: ${(rows.at(-1)!.totalMs / rows[0]!.totalMs).toFixed(3)}`);
  } finally {
    await disposable?.stop();
  }
  for (const p of problems) console.error(`ERROR: ${p}`);
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
