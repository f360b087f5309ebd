/**
 * Small statistics helpers for benchmark samples: percentiles of latency
 * samples and median/min/max across runs.
 *
 * @module
 */

/** Median with the range it was taken from. */
export interface Summary {
  median: number;
  min: number;
  max: number;
}

/**
 * The `p`-th percentile (0..100) of `sorted` (ascending), nearest-rank
 * method; NaN for an empty array.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

/** Median (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Median, min and max of the finite values (NaN fields when none). */
export function summarize(values: readonly number[]): Summary {
  const f = values.filter((v) => Number.isFinite(v));
  if (f.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: median(f), min: Math.min(...f), max: Math.max(...f) };
}

/**
 * Latency summary of round-trip samples given in nanoseconds: p50, p99,
 * mean and max, in microseconds.
 */
export function latencyUs(samplesNs: Float64Array): { p50: number; p99: number; mean: number; max: number } {
  const s = Float64Array.from(samplesNs).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    p50: percentile(s, 50) / 1000,
    p99: percentile(s, 99) / 1000,
    mean: s.length ? sum / s.length / 1000 : NaN,
    max: s.length ? s[s.length - 1]! / 1000 : NaN,
  };
}
