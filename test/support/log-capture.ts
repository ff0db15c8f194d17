/** A pino logger whose lines land in an array, for tests that prove what is (and is not) logged. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function captureLogs(level = 'trace'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
