/**
 * Counting what a server received per window of time, as a rate limit's correctness check. The server
 * stamps each request when its event loop gets to it; when that loop stalls (a loaded CI machine), the
 * requests that arrived meanwhile are stamped together at the stall's end, which would read as a burst
 * the sender never made. A stall watch records those instants, and windows that hold one are not judged.
 */

/** The most instants (ms) in any half-open window [t, t + windowMs), leaving out windows that contain any `blind` instant. */
export function maxInAnyWindow(instants: readonly number[], windowMs = 1000, blind: readonly number[] = []): number {
  const sorted = [...instants].sort((a, b) => a - b);
  const stalls = [...blind].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    const from = sorted[start]!;
    const to = sorted[end]!;
    if (stalls.some((at) => at >= from - 5 && at <= to + 5)) continue;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/**
 * Watches this process's event loop: every instant (ms, Date.now()) at which a tick came later than
 * `thresholdMs` past its due time. stop() returns them.
 */
export function watchStalls(thresholdMs = 40, everyMs = 10): { stop(): number[] } {
  const stalls: number[] = [];
  let due = Date.now() + everyMs;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - due > thresholdMs) stalls.push(now);
    due = now + everyMs;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return stalls;
    },
  };
}
