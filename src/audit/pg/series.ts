// The usage-chart series from per-bucket counts: the `top` keys with the most
// events overall keep their own line, the rest are summed per bucket under
// '(other)'. Sorted by bucket, then by rank (busiest key first, '(other)'
// last) so a chart legend is stable: the same order as the SQLite store.
// Pure, so it is unit-tested and identical whatever database counted.
import type { SeriesPoint } from '../types';

export const OTHER = '(other)';

const byKeyBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function foldSeries(points: readonly SeriesPoint[], top = 8): SeriesPoint[] {
  const totals = new Map<string, number>();
  for (const p of points) totals.set(p.key, (totals.get(p.key) ?? 0) + p.count);
  // Most events first; equal totals by key so the choice is stable.
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || byKeyBytes(a[0], b[0]));
  const rank = new Map<string, number>();
  ranked.slice(0, Math.max(0, top)).forEach(([k], i) => rank.set(k, i));
  const out: SeriesPoint[] = [];
  const other = new Map<number, number>();
  for (const p of points) {
    if (rank.has(p.key)) out.push({ t: p.t, key: p.key, count: p.count });
    else other.set(p.t, (other.get(p.t) ?? 0) + p.count);
  }
  for (const [t, count] of other) out.push({ t, key: OTHER, count });
  const pos = (k: string): number => rank.get(k) ?? Number.MAX_SAFE_INTEGER;
  return out.sort((a, b) => a.t - b.t || pos(a.key) - pos(b.key));
}
