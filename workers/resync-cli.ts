/**
 * `npm run resync [-- --fresh]`: the resync from Stripe in this process, with a progress line and a
 * summary. Same runner, writer and hooks as the `POST /admin/resync` job; an unfinished run (crash, Ctrl-C)
 * resumes from its last page unless `--fresh` is given. Ctrl-C stops between pages, checkpoint saved.
 */
import cliProgress from 'cli-progress';
import { createLogger } from '../src/logger.js';
import { createQueues } from '../src/queues.js';
import { createWorkerConnection, waitUntilReady } from '../src/store/redis-connections.js';
import { createSubscriberStore } from '../src/store/subscriber-store.js';
import { createEventLedger } from '../src/store/event-ledger.js';
import { expiryComponentsFrom, loadConfigOrExit, operationsFrom, stripeClientFrom, updateCardLinksFrom } from '../src/wiring.js';
import { BackfillStoppedError, ResyncBusyError } from '../src/backfill/backfill-runner.js';
import { systemClock } from '../src/runtime.js';

const config = loadConfigOrExit();

// The progress line owns the terminal: only warnings and worse are logged while it runs.
const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
const clock = systemClock;
const connection = createWorkerConnection(config.redisUrl, 'subgate-resync');
connection.on('error', (err) => logger.warn({ reason: err.message }, 'redis connection error'));
await waitUntilReady(connection, 10_000);
const prefix = config.redisKeyPrefix;
const queues = createQueues(connection, prefix);
const store = createSubscriberStore({ redis: connection, prefix });
const stripeClient = stripeClientFrom(config, connection);
const expiry = expiryComponentsFrom(config, {
  redis: connection,
  queues,
  store,
  stripeClient,
  links: updateCardLinksFrom(config, clock),
  clock,
  logger,
});
const operations = operationsFrom(config, {
  redis: connection,
  stripe: stripeClient,
  store,
  ledger: createEventLedger({ redis: connection, prefix }),
  queues,
  clock,
  logger,
  afterWrite: expiry.afterWrite,
});

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
  const summary = await operations.runBackfill({
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
  if (err instanceof BackfillStoppedError) console.error(`${err.message}. Run \`npm run resync\` again to resume.`);
  else if (err instanceof ResyncBusyError) console.error('Another resync is running (a worker or another `npm run resync`); run this again once it is done.');
  else console.error(`resync failed: ${(err as Error).message}. Run \`npm run resync\` again to resume from the last page.`);
} finally {
  await queues.close();
  await connection.quit().catch(() => undefined);
}
process.exit(code);
