/**
 * A logger built as production builds it (createLogger: same redaction), writing every line into an array,
 * for tests that assert what reaches a log and what never does.
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

export function capturingLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger(level, stream), lines };
}

/** The same, under the name the webhook and mailer tests use. */
export const captureLogs = (level = 'trace') => capturingLogger(level);
