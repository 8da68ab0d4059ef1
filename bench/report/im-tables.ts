// Tables and analysis lines for the IM, web IM and memory sections
// (scenarios/im-section.ts), built only from this run's figures.
import { fmt, fmtRatio, ratio } from '../lib/stats';
import { xmppTable } from './xmpp-table';
import { recordTable } from './record-table';
import { storeTable } from './store-table';
import { avTable } from './av-table';
import { sizeLabel } from './ratios';
import type { BenchResults } from './results';
import type { ImRow, ImSide } from '../scenarios/im';

const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
const us = (x: number): string => fmt(x, 0);

export function imLatencyTable(r: BenchResults): string {
  const rows = (r.im?.im ?? []).filter((x) => x.mode === 'latency');
  const lines = [
    row(['protocol', 'sender path', 'msg/s (median)', 'p50 / p99 us', 'vs direct msg/s', 'added p50 / p99 us', 'runs msg/s']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const x of rows) {
    const one = (name: string, s: ImSide): string => row([
      x.protocol.toUpperCase(), name, fmt(s.rate), `${us(s.p50_us)} / ${us(s.p99_us)}`, fmtRatio(ratio(s.rate, x.direct.rate)),
      s === x.direct ? '' : `${us(s.p50_us - x.direct.p50_us)} / ${us(s.p99_us - x.direct.p99_us)}`, s.runs.map((k) => fmt(k.rate)).join(', '),
    ]);
    lines.push(one('direct', x.direct), one('bare Node pipe relay (SOCKS5)', x.pipe), one('imgate SOCKS5, inspection on', x.gateway));
  }
  return lines.join('\n');
}

export function imBulkTable(r: BenchResults): string {
  const rows = (r.im?.im ?? []).filter((x) => x.mode === 'bulk');
  const lines = [row(['protocol', 'sender path', 'line bytes', 'MB/s (median)', 'vs direct', 'runs MB/s']), row(['---', '---', '---:', '---:', '---:', '---'])];
  for (const x of rows) {
    const one = (name: string, s: ImSide): string => row([
      x.protocol.toUpperCase(), name, String(x.lineBytes), fmt(s.MBps, 1), fmtRatio(ratio(s.MBps, x.direct.MBps)),
      s.runs.map((k) => (k.error ? `err (${k.error})` : fmt(k.MBps ?? NaN, 1))).join(', '),
    ]);
    lines.push(one('direct', x.direct), one('bare Node pipe relay (SOCKS5)', x.pipe), one('imgate SOCKS5, inspection on', x.gateway));
  }
  return lines.join('\n');
}

export function webimTable(r: BenchResults): string {
  const lines = [
    row(['body', 'mode', 'c-icap echo req/s', 'p50 / p99 ms', 'imgate store off req/s', 'p50 / p99 ms', 'store off / c-icap', 'imgate recording req/s', 'p50 / p99 ms', 'recording / c-icap', 'imgate answers', 'IM events / request (off, rec)', 'runs c-icap', 'runs store off', 'runs recording']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---:', '---', '---', '---']),
  ];
  for (const x of r.im?.webim ?? []) {
    const st = x.imgate.runs.reduce<Record<string, number>>((a, k) => { for (const [s, n] of Object.entries(k.statuses)) a[s] = (a[s] ?? 0) + n; return a; }, {});
    const ns = x.noStore;
    lines.push(row([
      sizeLabel(x.size), x.mode, fmt(x.cicap.rps), `${fmt(x.cicap.p50_ms, 2)} / ${fmt(x.cicap.p99_ms, 2)}`,
      ns ? fmt(ns.rps) : '', ns ? `${fmt(ns.p50_ms, 2)} / ${fmt(ns.p99_ms, 2)}` : '', x.ratioNoStore !== undefined ? fmtRatio(x.ratioNoStore) : '',
      fmt(x.imgate.rps), `${fmt(x.imgate.p50_ms, 2)} / ${fmt(x.imgate.p99_ms, 2)}`, fmtRatio(x.ratio), Object.entries(st).map(([s, n]) => `${s} x${n}`).join(', '),
      `${x.eventsPerRequestNoStore !== undefined ? fmt(x.eventsPerRequestNoStore, 3) : '-'}, ${fmt(x.eventsPerRequest, 3)}`,
      x.cicap.runs.map((k) => k.rps).join(', '), ns ? ns.runs.map((k) => k.rps).join(', ') : '', x.imgate.runs.map((k) => k.rps).join(', '),
    ]));
  }
  return lines.join('\n');
}

export function memTable(r: BenchResults): string {
  const m = r.im?.mem;
  if (!m) return 'Not run (BENCH_ONLY) or failed (see errors).';
  const mib = (b: number): string => fmt(b / 2 ** 20, 1);
  return [
    row(['tunnels held', 'RSS before / after MiB', 'V8 heap used before / after MiB', 'RSS per tunnel', 'heap per tunnel', 'active conns after', 'IRC sessions counted', 'open time']),
    row(['---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    row([
      `${m.opened} of ${m.n}${m.errors ? ` (${m.errors} errors: ${m.firstError})` : ''}`, `${mib(m.before.rssBytes)} / ${mib(m.after.rssBytes)}`,
      `${mib(m.before.heapUsedBytes)} / ${mib(m.after.heapUsedBytes)}`, `${fmt(m.rssPerTunnel / 1024, 1)} KiB`, `${fmt(m.heapPerTunnel / 1024, 1)} KiB`,
      fmt(m.after.activeConns), fmt(m.after.ircTunnels - m.before.ircTunnels), `${fmt(m.openSecs, 1)} s`,
    ]),
    '',
    `N = ${m.n}: requested ${m.requested}, capped at (RLIMIT_NOFILE hard ${m.nofileHard} - 400) / 2 because imgate holds two sockets per tunnel and this ` +
      'environment cannot raise the hard limit (no CAP_SYS_RESOURCE). imgate, the holder and the opener run under `prlimit --nofile=HARD:HARD`. ' +
      `Figures read from imgate's /metrics (process_resident_memory_bytes, nodejs_heap_size_used_bytes) ${m.settleSecs} s after the last tunnel was up.`,
  ].join('\n');
}

/** Analysis bullets against the issue targets. */
export function imAnalysis(r: BenchResults): string[] {
  const out: string[] = [];
  const im = r.im;
  if (!im) return out;
  const lat = im.im.find((x: ImRow) => x.mode === 'latency' && x.protocol === 'irc');
  if (lat) {
    const rr = ratio(lat.gateway.rate, lat.direct.rate);
    const add99 = (lat.gateway.p99_us - lat.direct.p99_us) / 1000;
    out.push(`- IRC closed loop (one PRIVMSG in flight): imgate ${fmt(lat.gateway.rate)} msg/s vs direct ${fmt(lat.direct.rate)} (${fmtRatio(rr)}, target >= 0.7x: ${rr >= 0.7 ? 'met' : 'missed'}); ` +
      `added latency p50 ${us(lat.gateway.p50_us - lat.direct.p50_us)} us, p99 ${us(lat.gateway.p99_us - lat.direct.p99_us)} us (target p99 <= 2 ms: ${add99 <= 2 ? 'met' : 'missed'}). ` +
      `The bare pipe relay alone gives ${fmtRatio(ratio(lat.pipe.rate, lat.direct.rate))} of direct with p50 +${us(lat.pipe.p50_us - lat.direct.p50_us)} us: ` +
      'in a closed loop whose direct round trip is tens of microseconds, any extra user-space hop (two more socket reads/writes and a process wake-up on 2 shared cores) costs a large fraction of the rate, ' +
      `so the 0.7x message-rate target is ${ratio(lat.pipe.rate, lat.direct.rate) < 0.7 ? 'below what even a bare relay reaches here; compare imgate with the pipe relay' : 'reachable by a bare relay'} ` +
      `(imgate / pipe relay = ${fmtRatio(ratio(lat.gateway.rate, lat.pipe.rate))}).`);
  }
  const bulk = im.im.find((x: ImRow) => x.mode === 'bulk' && x.protocol === 'irc');
  if (bulk) {
    out.push(`- Inspected IRC stream (${bulk.lineBytes}-byte PRIVMSG lines, 32 in flight): imgate ${fmt(bulk.gateway.MBps, 1)} MB/s vs direct ${fmt(bulk.direct.MBps, 1)} MB/s (${fmtRatio(ratio(bulk.gateway.MBps, bulk.direct.MBps))}), ` +
      `bare pipe relay ${fmt(bulk.pipe.MBps, 1)} MB/s; ngircd parsing and fanning out each line is part of every path.`);
  }
  for (const x of im.webim) {
    const insp = x.ratioNoStore !== undefined && x.noStore
      ? `inspecting with the store off ${fmt(x.noStore.rps)} req/s vs c-icap echo ${fmt(x.cicap.rps)} (${fmtRatio(x.ratioNoStore)}, target >= 0.8x: ${x.ratioNoStore >= 0.8 ? 'met' : 'missed'}); ` +
        `with every event recorded (shipped default) ${fmt(x.imgate.rps)} req/s (${fmtRatio(x.ratio)}; recording costs ${fmt((1 - x.imgate.rps / x.noStore.rps) * 100, 1)} % of the store-off rate)`
      : `imgate ${fmt(x.imgate.rps)} req/s vs c-icap echo ${fmt(x.cicap.rps)} (${fmtRatio(x.ratio)}, target >= 0.8x: ${x.ratio >= 0.8 ? 'met' : 'missed'})`;
    out.push(`- Web IM REQMOD ${sizeLabel(x.size)} mode ${x.mode}: ${insp}; ` +
      `${fmt(x.eventsPerRequest, 2)} IM events per request (each one recognised, parsed and decided by the policy; c-icap echo does neither).`);
  }
  if (im.mem) out.push(`- ${im.mem.opened} idle inspected IRC tunnels cost ${fmt(im.mem.rssPerTunnel / 1024, 1)} KiB RSS and ${fmt(im.mem.heapPerTunnel / 1024, 1)} KiB V8 heap each (both sockets, relay and IRC dissector session).`);
  for (const e of im.errors) out.push(`- Section error: ${e}`);
  return out;
}

export function imStdout(r: BenchResults): string[] {
  if (!r.im) return [];
  const out: string[] = [];
  if (r.im.im.length) out.push('', imLatencyTable(r), '', imBulkTable(r));
  if (r.im.webim.length) out.push('', webimTable(r));
  if (r.im.mem) out.push('', memTable(r));
  if (r.im.xmpp) out.push('', xmppTable(r.im.xmpp));
  if (r.im.record) out.push('', recordTable(r.im.record));
  if (r.im.store) out.push('', storeTable(r.im.store));
  if (r.im.av) out.push('', avTable(r.im.av));
  out.push('', ...imAnalysis(r));
  return out;
}
