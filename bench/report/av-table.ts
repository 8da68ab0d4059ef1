// Markdown for the AV bench: scan path cost against calling clamd directly,
// and the verdict cache (target: a cached verdict < 5% of a scan).
import type { AvBenchResult } from '../scenarios/av';
import { fmt, fmtRatio, ratio } from '../lib/stats';

function size(b: number): string {
  return b >= 1048576 ? `${fmt(b / 1048576)} MiB` : `${fmt(b / 1024)} KiB`;
}

export function avTable(r: AvBenchResult): string {
  const lines = [
    `AV scan path (${r.clamdVersion}; median of ${r.scan[0]?.samples ?? 0} scans per size, random content, imgate cache off; fresh content per path, order alternated)`,
    '',
    '| file | imgate AvService | bare clamd INSTREAM | ratio (imgate / direct) | rescan (clamd cache hit): imgate | direct | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.scan.map(
      (s) =>
        `| ${size(s.bytes)} | ${fmt(s.serviceMs, 2)} ms | ${fmt(s.directMs, 2)} ms | ${fmtRatio(ratio(s.serviceMs, s.directMs))} | ${fmt(s.serviceWarmMs, 2)} ms | ${fmt(s.directWarmMs, 2)} ms | ${fmtRatio(ratio(s.serviceWarmMs, s.directWarmMs))} |`,
    ),
    '',
    `Verdict cache (${r.cache.files} files of ${size(r.cache.bytes)}, ${r.cache.rounds} rounds)`,
    '',
    '| hit ratio (rounds 2..n) | scan (miss) | cached verdict | cached / scan | target |',
    '|---:|---:|---:|---:|---|',
    `| ${fmt(r.cache.hitRatio * 100, 1)}% | ${fmt(r.cache.missMs, 2)} ms | ${fmt(r.cache.hitMs, 2)} ms | ${fmt((r.cache.hitMs / r.cache.missMs) * 100, 1)}% | < 5%: ${r.cache.hitMs / r.cache.missMs < 0.05 ? 'met' : 'missed'} |`,
  ];
  return `${lines.join('\n')}\n`;
}
