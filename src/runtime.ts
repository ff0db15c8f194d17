/**
 * Process plumbing shared by the entry points: the system clock, and a shutdown that runs every step
 * once, in order, even when one of them throws, on SIGTERM/SIGINT.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Clock } from './domain/projection.js';
import type { Logger } from './logger.js';

export const systemClock: Clock = { now: () => Date.now() };

export type ShutdownStep = { name: string; run: () => Promise<unknown> | unknown };

export function createShutdown(steps: ShutdownStep[], logger: Logger): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => {
    running ??= (async () => {
      for (const step of steps) {
        try {
          await step.run();
        } catch (err) {
          logger.error({ step: step.name, reason: (err as Error).message }, 'shutdown step failed');
        }
      }
      logger.info('shutdown complete');
    })();
    return running;
  };
}

export function exitOnSignals(shutdown: () => Promise<void>, logger: Logger, graceMs = 25_000): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'draining');
    const force = setTimeout(() => {
      logger.error('drain took too long; exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    void shutdown().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}
