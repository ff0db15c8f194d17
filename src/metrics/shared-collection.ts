/**
 * One collection shared by every caller: while one runs, callers join it; after it succeeds, callers
 * within `maxAgeMs` get its result. A scrape then costs the figures' source (Redis) at most one round per
 * interval however many scrapers there are, and however often they come. A failure is shared by those
 * who joined it but not kept: the next caller tries again.
 */
import type { Clock } from '../domain/projection.js';

export function shareCollection<T>(collect: () => Promise<T>, opts: { clock: Clock; maxAgeMs: number }): () => Promise<T> {
  let running: Promise<T> | null = null;
  let last: { at: number; value: T } | null = null;
  return () => {
    if (running) return running;
    if (last && opts.clock.now() - last.at < opts.maxAgeMs) return Promise.resolve(last.value);
    const started = opts.clock.now();
    const round = collect().then(
      (value) => {
        last = { at: started, value };
        return value;
      },
      (err: unknown) => {
        last = null;
        throw err;
      },
    );
    running = round;
    // Cleared whichever way it ends, so a rejected round is never returned to a later caller.
    void round.then(
      () => (running = null),
      () => (running = null),
    );
    return round;
  };
}
