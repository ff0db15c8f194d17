/** A clock tests move by hand: expiry logic is tested across month ends without waiting. */
import type { Clock } from '../../src/domain/projection.js';

export interface TestClock extends Clock {
  set(ms: number | Date | string): void;
  advance(ms: number): void;
}

export function createTestClock(start: number | Date | string = Date.now()): TestClock {
  let current = new Date(start).getTime();
  return {
    now: () => current,
    set(ms) {
      current = new Date(ms).getTime();
    },
    advance(ms) {
      current += ms;
    },
  };
}
