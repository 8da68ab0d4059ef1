// Markdown for the XMPP bench (scenarios/xmpp.ts): message rate and delivery
// latency direct to Prosody, through the bare Node pipe relay (one relay hop,
// no inspection) and through imgate, same clients, same run; targets from
// issue 4 (imgate >= 0.7x direct rate, p99 added <= 2 ms). Below the table,
// notes computed from this run's own figures: what bounds each mode.
import type { XmppBenchResult, XmppCpu, XmppRow, XmppSide } from '../scenarios/xmpp';

const f0 = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
const times = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a');

function spread(x: XmppSide): string {
  return x.rateMin !== undefined && x.rateMax !== undefined ? ` (${f0(x.rateMin)}..${f0(x.rateMax)})` : '';
}

function stalls(x: XmppSide): string {
  const s = x.runs.map((r) => r.stalls).filter((n): n is number => n !== undefined);
  return s.length > 0 ? s.join(', ') : '-';
}

export function xmppTable(r: XmppBenchResult): string {
  const window = r.window ?? 32;
  const lines = [
    `XMPP <message> direct to ${r.prosody}, through the bare Node pipe relay (SOCKS5, no inspection) and through imgate's SOCKS5 door (inspecting); median (min..max) of ${r.rounds} rounds of ${r.secs} s each, paths alternating within each round.`,
    '',
    '| mode | body B | path | msg/s (min..max) | / direct, medians (imgate target >= 0.7x) | / direct, per round | p50 / p99 us | p99 added us, per round (imgate target <= 2000) | stalls > 10 ms per run |',
    '|---|---:|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of r.rows) {
    const lat = row.mode === 'latency';
    const mode = lat ? 'latency (1 in flight)' : `rate (${window} in flight)`;
    const d = row.direct;
    const line = (name: string, x: XmppSide, isDirect: boolean): string =>
      `| ${mode} | ${row.bodyBytes} | ${name} | ${f0(x.rate)}${spread(x)} | ${isDirect ? '-' : ratio(x.rate, d.rate)} | ${isDirect ? '-' : times(x.vsDirectPerRound)} | ${lat ? `${f0(x.p50_us)} / ${f0(x.p99_us)}` : '-'} | ${lat && !isDirect ? f0(x.p99AddedPerRound_us ?? x.p99_us - d.p99_us) : '-'} | ${lat ? '-' : stalls(x)} |`;
    lines.push(line('direct', d, true));
    // Results saved before the pipe row existed have none.
    if (row.pipe !== undefined) lines.push(line('bare Node pipe relay', row.pipe, false));
    lines.push(line('imgate, inspection on', row.gateway, false));
  }
  const notes = xmppNotes(r);
  return notes.length > 0 ? `${lines.join('\n')}\n\n${notes.join('\n')}` : lines.join('\n');
}

const sumCpu = (c: XmppCpu, relay: boolean): number => (relay ? c.relay : 0) + c.prosody + c.clients;

/** What bounds each mode, from this run's CPU per message (only when it was measured). */
function xmppNotes(r: XmppBenchResult): string[] {
  const out: string[] = [];
  if (r.prosodyNagle === false) {
    out.push(
      '- Prosody runs with `network_settings = { nagle = false }` (TCP_NODELAY). With its default (Nagle on) each small write to the receiver waits for the ACK of the previous one, and the receiver, which sends nothing back, ACKs late: rate runs then stalled 15-28 times per 2 s for 10-345 ms (delayed-ACK timers, 40 ms and up; measured while fixing this) and swung between ~2,000 and ~18,000 msg/s on every path alike, direct included. With Nagle off, the same 2 s runs on a quieter box had 0-11 such gaps (four of five runs 0-1) and 9,700-12,100 msg/s where Nagle on gave 3,300-6,000; stalls left in the column come from processes waiting for a CPU (Prosody\'s wait per message in the CPU table says how much other load shaped a run). `BENCH_XMPP_PROSODY_NAGLE=1` brings the old behaviour back.',
    );
  }
  if (r.prosodyNagle === true) out.push('- Prosody ran with Nagle on (BENCH_XMPP_PROSODY_NAGLE=1): rate runs include delayed-ACK stalls (see the stall column).');
  const rate = r.rows.find((x) => x.mode === 'rate');
  const lat = r.rows.find((x) => x.mode === 'latency');
  const dc = rate?.direct.cpu;
  const gc = rate?.gateway.cpu;
  if (rate !== undefined && dc !== undefined && gc !== undefined && dc.prosody > 0) {
    const ceiling = 1e6 / dc.prosody;
    out.push(
      `- Rate mode: Prosody handles each message on one thread in ${f1(dc.prosody)} us of CPU, so no path can pass ~${f0(ceiling)} msg/s (direct reached ${f0(rate.direct.rate)}, ${ratio(rate.direct.rate, ceiling)} of that). imgate adds ${f1(gc.relay)} us/msg (${f1(gc.relayMain)} on its event loop, the rest in its other threads, mostly the record store's SQLite writer) and the clients ${f1(gc.clients)}: ${f1(gc.relay + gc.clients)} us/msg that run beside Prosody on the second core, below Prosody's ${f1(gc.prosody)}, so the gateway path stays bound by Prosody as long as the relay's CPU fits in the core Prosody leaves free (box total ${f1(sumCpu(gc, true))} vs ${f1(sumCpu(dc, false))} us/msg direct: ${f0(2e6 / sumCpu(gc, true))} msg/s if both cores did nothing else).`,
    );
  }
  const lg = lat?.gateway.cpu;
  const lp = lat?.pipe?.cpu;
  if (lat !== undefined && lg !== undefined && lp !== undefined) {
    const cycle = 1e6 / lat.direct.rate;
    out.push(
      `- Latency mode is a closed loop, one message at a time, so every hop's time adds up: direct takes ${f0(cycle)} us per message; the bare pipe relay adds ${f0(1e6 / (lat.pipe?.rate ?? NaN) - cycle)} us (its event loop spends ${f1(lp.relayMain)} us/msg: one read, one write), imgate ${f0(1e6 / lat.gateway.rate - cycle)} us (${f1(lg.relayMain)} us/msg on its event loop: the same read and write, plus the XMPP dissector, the policy decision and the record hand-off). 0.7x direct allows ${f0(cycle / 0.7 - cycle)} us added per message.`,
    );
  }
  return out;
}

/** The rows the headline ratios use (ratios.ts). */
export function xmppRows(r: XmppBenchResult): { rate?: XmppRow; latency?: XmppRow } {
  return { rate: r.rows.find((x) => x.mode === 'rate'), latency: r.rows.find((x) => x.mode === 'latency') };
}
