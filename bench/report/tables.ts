// Markdown tables of raw figures and ratios (printed to stdout and embedded
// in docs/benchmarks.md).
import { fmt, fmtRatio, ratio } from '../lib/stats';
import { headlines, sizeLabel } from './ratios';
import type { BenchResults } from './results';

const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;

export function headlineTable(r: BenchResults): string {
  const lines = [row(['ratio (medians)', 'measured', 'target', 'met']), row(['---', '---:', '---:', '---'])];
  for (const h of headlines(r)) {
    const met = h.target === null || !Number.isFinite(h.value) ? '' : h.value >= h.target ? 'yes' : 'no';
    lines.push(row([h.what, fmtRatio(h.value), h.target === null ? '' : `>= ${h.target.toFixed(1)}x`, met]));
  }
  return lines.join('\n');
}

export function icapTable(r: BenchResults): string {
  const lines = [
    row(['body', 'mode', 'c-icap req/s', 'c-icap p50 / p99 ms', 'imgate req/s', 'imgate p50 / p99 ms', 'imgate / c-icap', 'runs c-icap', 'runs imgate', 'errors c-icap / imgate']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---', '---', '---:']),
  ];
  for (const x of r.icap) {
    const g = x.imgate;
    lines.push(row([
      sizeLabel(x.size),
      x.mode,
      fmt(x.cicap.rps),
      `${fmt(x.cicap.p50_ms, 2)} / ${fmt(x.cicap.p99_ms, 2)}`,
      g ? fmt(g.rps) : 'n/a',
      g ? `${fmt(g.p50_ms, 2)} / ${fmt(g.p99_ms, 2)}` : 'n/a',
      fmtRatio(x.ratio),
      x.cicap.runs.map((k) => k.rps).join(', '),
      g ? g.runs.map((k) => k.rps).join(', ') : '',
      `${x.cicap.errors} / ${g ? g.errors : 'n/a'}`,
    ]));
  }
  lines.push('');
  lines.push('Answer checked before timing (one icapload-identical request each): ' +
    r.icap.map((x) => `${sizeLabel(x.size)}/${x.mode}: c-icap ${x.cicap.check}, imgate ${x.imgate ? x.imgate.check : 'n/a'}`).join('; ') + '.');
  return lines.join('\n');
}

export function bulkTable(r: BenchResults): string {
  const direct = r.bulk.find((b) => b.target.key === 'direct')?.mbps ?? NaN;
  const dante = r.bulk.find((b) => b.target.key === 'dante')?.mbps ?? NaN;
  const lines = [
    row(['path', 'MB/s (median)', 'Gbit/s', 'vs direct', 'vs Dante', 'relay CPU ms/GiB', 'runs MB/s']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const b of r.bulk) {
    const errs = b.runs.filter((k) => k.error).map((k) => k.error);
    lines.push(row([
      b.target.name,
      fmt(b.mbps),
      fmt((b.mbps * 8) / 1000, 2),
      fmtRatio(ratio(b.mbps, direct)),
      fmtRatio(ratio(b.mbps, dante)),
      b.cpuMsPerGiB !== undefined ? fmt(b.cpuMsPerGiB) : '',
      b.runs.map((k) => (k.error ? 'err' : k.mbps.toFixed(0))).join(', ') + (errs.length ? ` (${errs[0]})` : ''),
    ]));
  }
  return lines.join('\n');
}

/** iperf3 over the same paths (128 KiB writes, one stream). */
export function iperfTable(r: BenchResults): string {
  const rows = r.iperf ?? [];
  const direct = rows.find((x) => x.path.key === 'direct')?.gbps ?? NaN;
  const lines = [
    row(['path (iperf3)', 'Gbit/s (median)', 'vs direct', 'runs Gbit/s', 'retransmits']),
    row(['---', '---:', '---:', '---', '---:']),
  ];
  for (const x of rows) {
    const errs = x.runs.filter((k) => k.error).map((k) => k.error);
    lines.push(row([
      x.path.name,
      fmt(x.gbps, 2),
      fmtRatio(ratio(x.gbps, direct)),
      x.runs.map((k) => (k.error ? 'err' : k.gbps.toFixed(2))).join(', ') + (errs.length ? ` (${errs[0]})` : ''),
      String(x.runs.reduce((a, k) => a + k.retransmits, 0)),
    ]));
  }
  return lines.join('\n');
}

export function connTable(r: BenchResults): string {
  const direct = r.conn.find((b) => b.target.key === 'direct')?.cps ?? NaN;
  const dante = r.conn.find((b) => b.target.key === 'dante')?.cps ?? NaN;
  const lines = [
    row(['path', 'conn/s (median)', 'p50 / p99 ms', 'vs direct', 'vs Dante', 'runs conn/s', 'errors']),
    row(['---', '---:', '---:', '---:', '---:', '---', '---:']),
  ];
  for (const c of r.conn) {
    const firstErr = c.runs.find((k) => k.firstError)?.firstError;
    lines.push(row([
      c.target.name,
      fmt(c.cps),
      `${fmt(c.p50_ms, 2)} / ${fmt(c.p99_ms, 2)}`,
      fmtRatio(ratio(c.cps, direct)),
      fmtRatio(ratio(c.cps, dante)),
      c.runs.map((k) => fmt(k.cps)).join(', '),
      `${c.errors}${firstErr ? ` (${firstErr})` : ''}`,
    ]));
  }
  return lines.join('\n');
}

export function profileTables(r: BenchResults): string {
  const parts: string[] = [];
  for (const p of r.profiles) {
    parts.push(`#### ${p.name}: ${p.load}`);
    if (!p.summary) { parts.push(`No profile: ${p.error ?? 'unknown error'}`); continue; }
    const s = p.summary;
    parts.push(`Busy (non-idle) CPU in the profile: ${fmt(s.busyMs)} ms of ${fmt(s.totalMs)} ms sampled.`);
    parts.push('');
    parts.push('Self time by where the code lives (% of busy):');
    parts.push('');
    parts.push(row(['category', '% busy']));
    parts.push(row(['---', '---:']));
    for (const [k, v] of Object.entries(s.categories)) parts.push(row([k, fmt(v, 1)]));
    parts.push('');
    parts.push('Top functions by self time:');
    parts.push('');
    parts.push(row(['#', 'function', 'location', 'category', 'self ms', '% busy']));
    parts.push(row(['---:', '---', '---', '---', '---:', '---:']));
    s.top.forEach((h, i) => parts.push(row([String(i + 1), `\`${h.fn}\``, `\`${h.where}\``, h.category, fmt(h.selfMs), fmt(h.pct, 1)])));
    parts.push('');
    parts.push("Top functions in imgate's own code (src/, icap/, socks/):");
    parts.push('');
    parts.push(row(['#', 'function', 'location', 'self ms', '% busy']));
    parts.push(row(['---:', '---', '---', '---:', '---:']));
    s.topOwn.forEach((h, i) => parts.push(row([String(i + 1), `\`${h.fn}\``, `\`${h.where}\``, fmt(h.selfMs, 1), fmt(h.pct, 2)])));
    parts.push('');
  }
  return parts.join('\n');
}
