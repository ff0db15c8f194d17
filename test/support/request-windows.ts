/** The most instants (ms) that fall in any one half-open window [t, t + windowMs), over every t. */
export function maxInAnyWindow(instants: readonly number[], windowMs = 1000): number {
  const sorted = [...instants].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
