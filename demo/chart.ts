import { percentile } from '../chaos/lib/stats.js';

/** A small terminal histogram and percentiles, for the demo's close lateness. */

export function percentiles(values: readonly number[], qs: readonly number[]): number[] {
  return qs.map((q) => percentile(values, q));
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/**
 * Buckets with edges that double (0–25 ms, 25–50 ms, 50–100 ms, …) so a long tail stays readable,
 * each drawn as a bar scaled to the fullest bucket.
 */
export function histogram(sorted: readonly number[], width = 40): string[] {
  if (sorted.length === 0) return ['  (no orders closed by timeout)'];
  const edges = [0, 25];
  while (edges.at(-1)! <= (sorted.at(-1) ?? 0)) edges.push(edges.at(-1)! * 2);
  const counts = edges.slice(1).map((hi, i) => sorted.filter((v) => v >= edges[i]! && v < hi).length);
  // negative lateness (closed a hair before the recorded deadline) counts in the first bucket
  counts[0] = (counts[0] ?? 0) + sorted.filter((v) => v < 0).length;
  const max = Math.max(...counts);
  return counts.map((n, i) => {
    const label = `${fmt(edges[i]!)}–${fmt(edges[i + 1]!)}`.padStart(16);
    const bar = '█'.repeat(Math.round((n / max) * width)) || (n > 0 ? '▏' : '');
    return `  ${label} ${bar} ${n}`;
  });
}

export function formatMs(ms: number): string {
  return fmt(ms);
}
