/**
 * Entry point of the worker process (`npm run start:worker`): config -> the worker side
 * (src/composition.ts), with the drain on SIGTERM. `npm start` runs the same side inside the API process.
 */
import { loadConfigOrExit } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { systemClock } from '../src/runtime.js';
import { createShutdown, drainLimits, exitOnSignals } from '../src/drain.js';
import { openWorkerSide } from '../src/composition.js';

const config = loadConfigOrExit();
const logger = createLogger(config.logLevel);
const workers = await openWorkerSide(config, logger, systemClock);
exitOnSignals(createShutdown(workers.shutdownSteps, logger), logger, drainLimits(config.shutdownTimeoutMs).totalMs);
workers.logStarted();
