/**
 * `npm run resync [-- --fresh]`: the resync from Stripe in this process, with a progress line and a
 * summary. Same runner, writer and hooks as the `POST /admin/resync` job; an unfinished run (crash, Ctrl-C)
 * resumes from its last page unless `--fresh` is given. Ctrl-C stops between pages, checkpoint saved.
 */
import cliProgress from 'cli-progress';
import { loadConfigOrExit } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { ResyncStoppedError, ResyncBusyError } from '../src/operations/resync-runner.js';
import { systemClock } from '../src/runtime.js';
import { openResync } from '../src/composition.js';

const config = loadConfigOrExit();

// The progress line owns the terminal: only warnings and worse are logged while it runs.
const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
const resync = await openResync(config, logger, systemClock);

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const bar = new cliProgress.SingleBar(
  { format: '{phase} | subscriptions {subscriptions} | customers {value} | written {written} | stale {stale} | 429s {rateLimited} | {rate}/s', noTTYOutput: true, notTTYSchedule: 5000 },
  cliProgress.Presets.shades_classic,
);
const started = Date.now();
bar.start(0, 0, { phase: 'starting', subscriptions: 0, written: 0, stale: 0, rateLimited: 0, rate: 0 });

let code = 0;
try {
  const summary = await resync.runResync({
    fresh: process.argv.includes('--fresh'),
    signal: controller.signal,
    onProgress(cp) {
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      bar.setTotal(cp.customers);
      bar.update(cp.customers, {
        phase: cp.phase,
        subscriptions: cp.subscriptions,
        written: cp.written,
        stale: cp.stale,
        rateLimited: cp.rate_limited,
        rate: Math.round((cp.phase === 'subscriptions' ? cp.subscriptions : cp.customers) / seconds),
      });
    },
  });
  bar.stop();
  const seconds = summary.elapsed_ms / 1000;
  console.log(
    [
      `resync ${summary.run_id} ${summary.resumed ? `resumed (${summary.resumes}x) and ` : ''}finished in ${seconds.toFixed(1)} s`,
      `  subscriptions staged  ${summary.subscriptions}`,
      `  customers read        ${summary.customers} (${Math.round(summary.customers / Math.max(seconds, 0.001))}/s this run)`,
      `  projections written   ${summary.written}`,
      `  kept newer (stale)    ${summary.stale}`,
      `  Stripe retries        ${summary.retries} (${summary.rate_limited} rate-limited)`,
    ].join('\n'),
  );
} catch (err) {
  bar.stop();
  code = 1;
  if (err instanceof ResyncStoppedError) console.error(`${err.message}. Run \`npm run resync\` again to resume.`);
  else if (err instanceof ResyncBusyError) console.error('Another resync is running (a worker or another `npm run resync`); run this again once it is done.');
  else console.error(`resync failed: ${(err as Error).message}. Run \`npm run resync\` again to resume from the last page.`);
} finally {
  await resync.close();
}
process.exit(code);
