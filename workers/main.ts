/**
 * Entry point of the worker process (`npm run start:worker`): config -> the worker side
 * (src/composition.ts), with the drain on SIGTERM. `npm start` runs the same side inside the API process.
 * With METRICS_PORT, the process serves its own /metrics (and /healthz, /readyz) there.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { loadConfigOrExit } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { systemClock } from '../src/runtime.js';
import { createShutdown, drainLimits, exitOnSignals, type ShutdownStep } from '../src/drain.js';
import { openWorkerSide } from '../src/composition.js';
import { startTracing } from '../src/tracing.js';

const config = loadConfigOrExit();
const logger = createLogger(config.logLevel);
// Off (and the SDK never loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = await startTracing(config.otel);
const workers = await openWorkerSide(config, logger, systemClock);
const steps: ShutdownStep[] = [...workers.shutdownSteps];
if (workers.metricsApp && config.metricsPort !== undefined) {
  const server = createServer(workers.metricsApp);
  // Scrapes are short: the metrics listener closes first, without waiting on keep-alive sockets.
  steps.unshift({
    name: 'metrics-server',
    run: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  server.listen(config.metricsPort);
  await once(server, 'listening');
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.metricsPort }, 'metrics listening');
}
if (tracing) steps.push({ name: 'tracing', run: () => tracing.shutdown() });
exitOnSignals(createShutdown(steps, logger), logger, drainLimits(config.shutdownTimeoutMs).totalMs);
workers.logStarted();
