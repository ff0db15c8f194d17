/**
 * One pino logger per process, made in the composition root; units take `logger.child({ component })`.
 * Redaction is the last line of defence: the code logs ids, never payloads, card data or e-mail addresses.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'email',
  '*.email',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers["stripe-signature"]',
  'req.headers.authorization',
  'req.headers["stripe-signature"]',
  'token',
  '*.token',
  'card.last4',
  '*.card.last4',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'subgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that drops everything, for tests that don't assert on logs. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

export type LogLevel = 'warn' | 'error';

/**
 * Logs a repeating trouble (a connection error, a worker error) once per `everyMs` per message and
 * reason, with how many were left out since: a Redis that answers every command with an error must
 * not turn into a line per command. Time is the host's: this only paces log lines, it decides nothing.
 */
export function createRepeatLimiter(logger: Logger, everyMs = 10_000, now: () => number = Date.now) {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return (level: LogLevel, fields: Record<string, unknown> & { reason?: string }, msg: string): void => {
    const key = `${msg}|${String(fields.queue ?? '')}|${String(fields.reason ?? '').slice(0, 80)}`;
    const at = now();
    const entry = seen.get(key);
    if (entry && at - entry.at < everyMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    seen.set(key, { at, suppressed: 0 });
    if (seen.size > 1000) seen.delete(seen.keys().next().value!);
    logger[level](suppressed > 0 ? { ...fields, repeated: suppressed } : fields, msg);
  };
}
