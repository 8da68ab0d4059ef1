// The cost of recording as a markdown table: each row's throughput with the
// record store off (baseline), on with writes on the main thread, and on as
// shipped (writer thread), with ratios against the baseline of the same run.
import { fmt, fmtRatio, ratio } from '../lib/stats';
import type { RecordMode, RecordResult } from '../scenarios/record';

const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
const signed = (pct: number): string => `${pct >= 0 ? '+' : ''}${fmt(pct, 1)} %`;
const LABEL: Record<RecordMode, string> = {
  off: 'audit off (baseline)',
  inline: 'audit on, writes on main thread',
  thread: 'audit on, writer thread (shipped)',
  before: 'audit on, writer thread (older build)',
};
const WHAT: Record<string, string> = { 'irc-latency': 'IRC closed-loop PRIVMSG (100 B)', 'irc-bulk': 'IRC stream of PRIVMSG lines (480 B)', 'webim-reqmod': 'web IM ICAP REQMOD (1 KiB JSON post)' };

export function recordTable(r: RecordResult): string {
  const lines = [
    row(['workload', 'imgate', 'median', 'vs audit off', 'cost of recording', 'gateway CPU per op', 'CPU vs audit off', 'events stored', 'dropped', 'runs']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const x of r.rows) {
    const base = x.sides.off?.median ?? NaN;
    const baseCpu = x.sides.off?.cpuUsPerOp ?? NaN;
    for (const m of ['off', 'inline', 'before', 'thread'] as const) {
      const s = x.sides[m];
      if (!s) continue;
      const q = ratio(s.median, base);
      lines.push(row([
        WHAT[x.what] ?? x.what, LABEL[m], `${fmt(s.median)} ${x.unit}`, m === 'off' ? '' : fmtRatio(q),
        m === 'off' || !Number.isFinite(q) ? '' : `${fmt((1 - q) * 100, 1)} %`,
        s.cpuUsPerOp !== undefined && Number.isFinite(s.cpuUsPerOp) ? `${fmt(s.cpuUsPerOp, 1)} µs` : '',
        m === 'off' || s.cpuUsPerOp === undefined || !Number.isFinite(s.cpuUsPerOp / baseCpu) ? '' : signed((s.cpuUsPerOp / baseCpu - 1) * 100),
        m === 'off' ? '' : fmt(s.stored), m === 'off' ? '' : fmt(s.dropped), s.runs.map((v) => fmt(v)).join(', '),
      ]));
    }
  }
  if (r.errors.length) lines.push('', ...r.errors.map((e) => `- error: ${e}`));
  return lines.join('\n');
}
