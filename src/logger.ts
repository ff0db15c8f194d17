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
