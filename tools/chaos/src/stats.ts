/** Percentile (nearest rank) of an ascending-sorted array; 0 for an empty one. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** The longest gap between consecutive instants (any order); 0 with fewer than two. */
export function longestGap(times: ArrayLike<number>): number {
  if (times.length < 2) return 0;
  const sorted = Float64Array.from(times).sort();
  let longest = 0;
  for (let i = 1; i < sorted.length; i++) longest = Math.max(longest, sorted[i]! - sorted[i - 1]!);
  return longest;
}

/** Counts by key, most frequent first. */
export function countBy(keys: Iterable<string>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
}
