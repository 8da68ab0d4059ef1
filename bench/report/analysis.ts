// Analysis sentences built only from this run's measurements, so the prose
// in docs/benchmarks.md never disagrees with its tables.
import { fmt, fmtRatio, ratio } from '../lib/stats';
import { sizeLabel } from './ratios';
import type { BenchResults } from './results';

export function analysis(r: BenchResults): string {
  const out: string[] = [];
  if (!r.imgate.available) out.push(`- imgate could not be started in this run (${r.imgate.error ?? 'unknown'}); only the baselines were measured.`);

  for (const x of r.icap) {
    if (!x.imgate) continue;
    const verdict = x.mode === '200' && x.size <= 65536 ? (x.ratio >= 1 ? 'meets' : 'misses') + ' the >= 1.0x target' : 'no target';
    out.push(`- ICAP ${sizeLabel(x.size)} mode ${x.mode}: imgate ${fmt(x.imgate.rps)} req/s vs c-icap ${fmt(x.cicap.rps)} (${fmtRatio(x.ratio)}, ${verdict}); p50 ${fmt(x.imgate.p50_ms, 2)} vs ${fmt(x.cicap.p50_ms, 2)} ms.`);
  }

  const b = (k: string): number => r.bulk.find((x) => x.target.key === k)?.mbps ?? NaN;
  const cpu = (k: string): number => r.bulk.find((x) => x.target.key === k)?.cpuMsPerGiB ?? NaN;
  const ip = (k: string): number => r.iperf?.find((x) => x.path.key === k)?.gbps ?? NaN;
  if (r.bulk.length) {
    const direct = b('direct');
    const refs = ['pipe', 'dante', 'haproxy', 'haproxy-splice'].filter((k) => Number.isFinite(b(k)));
    const best = refs.reduce((m, k) => (b(k) > b(m) ? k : m), refs[0] ?? 'pipe');
    const bestName = r.bulk.find((x) => x.target.key === best)?.target.name ?? best;
    const bestRatio = ratio(b(best), direct);
    out.push(`- Reference relays, bulk: ${refs.map((k) => `${r.bulk.find((x) => x.target.key === k)?.target.name ?? k} ${fmt(b(k))} MB/s (${fmtRatio(ratio(b(k), direct))} direct${Number.isFinite(cpu(k)) ? `, ${fmt(cpu(k))} ms CPU/GiB` : ''})`).join('; ')}; direct ${fmt(direct)} MB/s.` +
      (r.iperf?.length ? ` With iperf3 (128 KiB writes): direct ${fmt(ip('direct'), 1)} Gbit/s, HAProxy with splice ${fmtRatio(ratio(ip('haproxy-splice'), ip('direct')))}, Dante ${fmtRatio(ratio(ip('dante'), ip('direct')))}, bare pipe ${fmtRatio(ratio(ip('pipe'), ip('direct')))}, imgate ${fmtRatio(ratio(ip('imgate'), ip('direct')))}.` : ''));
    if (Number.isFinite(b('imgate'))) {
      const vsDirect = ratio(b('imgate'), direct);
      out.push(`- imgate SOCKS5 bulk: ${fmt(b('imgate'))} MB/s = ${fmtRatio(vsDirect)} direct (target 0.8x), ${fmtRatio(ratio(b('imgate'), b(best)))} of the best reference relay (${bestName}), ` +
        `${fmtRatio(ratio(b('imgate'), b('pipe')))} of the bare pipe relay, ${fmtRatio(ratio(b('imgate'), b('dante')))} Dante (target 1.0x)` +
        (Number.isFinite(cpu('imgate')) ? `; relay CPU ${fmt(cpu('imgate'))} ms/GiB vs ${fmt(cpu('pipe'))} for the bare pipe${Number.isFinite(cpu('haproxy-splice')) ? ` and ${fmt(cpu('haproxy-splice'))} for HAProxy with splice` : ''}.` : '.') +
        (vsDirect < 0.8 && bestRatio < 0.8
          ? ` 0.8x of direct is out of reach here for every relay, ${refs.includes('haproxy-splice') ? 'HAProxy with splice included' : 'the reference relays included'} (best: ${fmtRatio(bestRatio)}): ` +
            'a relay turns one loopback TCP connection into two, so the kernel TCP work per byte doubles (on loopback each send also runs the receiver\'s TCP input, which is why the writer\'s `writeBuffer` holds most of a Node relay\'s CPU profile), ' +
            'and it adds a third busy process to the sender and the sink on 2 cores shared with other work; splice only removes the copy through user space, not the TCP work.'
          : ''));
    }
  }
  if (Number.isFinite(b('imgate')) && Number.isFinite(b('imgate-doors-only'))) {
    const x = ratio(b('imgate'), b('imgate-doors-only'));
    out.push(`- Same code, two processes: the main imgate (which served the ICAP section first) relayed ${fmt(b('imgate'))} MB/s, a second imgate with ICAP off and no prior load ${fmt(b('imgate-doors-only'))} MB/s (${fmtRatio(x)}).` +
      (x < 0.85 ? ' The main process relays measurably slower after the ICAP load: state left behind by the ICAP path (heap growth, timers, listeners) is worth investigating.' : ''));
  }
  const c = (k: string): number => r.conn.find((x) => x.target.key === k)?.cps ?? NaN;
  if (r.conn.length && Number.isFinite(c('imgate'))) {
    out.push(`- Connections/s: imgate ${fmt(c('imgate'))}, Dante ${fmt(c('dante'))}, bare pipe relay ${fmt(c('pipe'))}, direct ${fmt(c('direct'))}` +
      (Number.isFinite(c('haproxy')) ? `, HAProxy forward ${fmt(c('haproxy'))} (no splice) / ${fmt(c('haproxy-splice'))} (splice)` : '') + '. ' +
      'Each proxied connection costs two TCP handshakes and teardowns plus the SOCKS exchange (two extra round trips; HAProxy forwards without one, so its rows are not a SOCKS proxy\'s cost), so per-connection work, not bytes, sets this rate.');
  }
  const prof = (n: string) => r.profiles.find((p) => p.name === n)?.summary ?? null;
  const ps = prof('prof-socks');
  const pp = prof('prof-pipe-relay');
  if (ps && pp) {
    const gc = (x: typeof ps): number => x.categories.GC ?? 0;
    out.push(`- Under the same bulk load, garbage collection took ${fmt(gc(ps), 1)}% of imgate's busy CPU vs ${fmt(gc(pp), 1)}% in the bare pipe relay; ` +
      `busy CPU ${fmt(ps.busyMs)} ms vs ${fmt(pp.busyMs)} ms over the same ~${r.settings.profileSecs} s window.`);
  }
  for (const p of r.profiles) {
    if (!p.summary) continue;
    const cats = Object.entries(p.summary.categories).slice(0, 4).map(([k, v]) => `${k} ${fmt(v, 1)}%`).join(', ');
    const top = p.summary.top.slice(0, 5).map((h) => `\`${h.fn}\` (${h.where}) ${fmt(h.pct, 1)}%`).join('; ');
    const own = p.summary.topOwn.slice(0, 3).map((h) => `\`${h.fn}\` (${h.where}) ${fmt(h.pct, 1)}%`).join('; ');
    out.push(`- Profile ${p.name} (${p.load}): self time by area: ${cats}. Top functions: ${top}. Top in imgate's code: ${own || 'none sampled'}.`);
  }
  return out.join('\n');
}
