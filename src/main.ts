/**
 * Entry point of the API process: config -> the API side (src/composition.ts) -> listen, with the drain on
 * SIGTERM. With `--with-workers` (what `npm start` passes) the worker side runs in the same process.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { loadConfigOrExit } from './config.js';
import { createLogger } from './logger.js';
import { systemClock } from './runtime.js';
import { createHttpDrain, createShutdown, drainLimits, exitOnSignals, httpDrainStep } from './drain.js';
import { applyServerLimits } from './http/server-limits.js';
import { openApiSide, openWorkerSide } from './composition.js';
import { startTracing } from './tracing.js';

const config = loadConfigOrExit();
const logger = createLogger(config.logLevel);
const clock = systemClock;
// Before anything is built: off (and the SDK never loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = await startTracing(config.otel);

const api = await openApiSide(config, logger, clock);
const workers = process.argv.includes('--with-workers') ? await openWorkerSide(config, logger, clock, api.metrics) : null;

// The drain is in place before the first connection, and SIGTERM is handled before anyone is told the
// process is up.
const server = applyServerLimits(createServer(api.app), config.http, logger);
const limits = drainLimits(config.shutdownTimeoutMs);
const shutdown = createShutdown(
  [
    httpDrainStep(createHttpDrain(server), { limitMs: limits.httpMs, logger, endStreams: () => api.changeReader.close() }),
    ...(workers?.shutdownSteps ?? []),
    ...api.shutdownSteps,
    ...(tracing ? [{ name: 'tracing', run: () => tracing.shutdown() }] : []),
  ],
  logger,
);
exitOnSignals(shutdown, logger, limits.totalMs);
server.listen(config.port);
await once(server, 'listening');
const address = server.address();
workers?.logStarted();
logger.info({ port: typeof address === 'object' && address ? address.port : config.port }, 'api listening');
