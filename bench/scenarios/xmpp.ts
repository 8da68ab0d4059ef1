// XMPP through the inspecting gateway vs direct (issue 4 "Measured"): real
// Prosody, a receiver always connected directly, a sender connected
// directly, through the bench's bare Node pipe relay (SOCKS5, no inspection:
// what one user-space relay hop costs here) or through imgate's SOCKS5 door
// (inspection on, as shipped; the default allow policy still evaluates every
// message). Two measurements, alternating direct / pipe / gateway within each
// round:
//   latency: closed loop, one <message> in flight: delivery time (sender
//            write -> receiver read, one process clock), p50 / p99;
//   rate:    XMPP_WINDOW messages in flight: delivered messages per second,
//            and the receiver's stalls (gaps > 10 ms between deliveries:
//            TCP timer stalls like the Nagle / delayed-ACK ones
//            xmpp-prosody.ts turns off, or a process waiting for a CPU while
//            other load runs; Prosody's run-queue wait tells which).
// Every path gets a warm-up run of both modes first; each side reports its
// spread (min..max of the rounds) and the median of per-round ratios to the
// direct run of the same round, which damps load that comes and goes.
// The clients run in this process (raw sockets, scenarios/xmpp-client.ts);
// imgate and Prosody are separate processes. When their pids are given, each
// run also records CPU microseconds per message of the relay (all threads
// and its main thread), Prosody and the clients (scenarios/xmpp-cpu.ts): the
// part of the box each message costs on each path.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progress } from '../lib/log';
import { freePort } from '../lib/ports';
import { stopDaemon } from '../lib/proc';
import { startPipeRelay } from '../peers/node-procs';
import { median, quantile } from '../lib/stats';
import type { Target } from '../load/handshake';
import { BENCH_XMPP_DOMAIN, PROSODY_NAGLE } from './xmpp-prosody';
import { xmppLogin, type XmppConn } from './xmpp-client';
import { cpuMark, perMessage, selfMark } from './xmpp-cpu';

export const XMPP_BENCH_USERS = [
  { name: 'tx', password: 'txpw' },
  { name: 'rx', password: 'rxpw' },
];
/** Messages in flight in rate mode. */
export const XMPP_WINDOW = Number(process.env.BENCH_XMPP_WINDOW ?? 32);

/** CPU microseconds per delivered message (see the header). */
export interface XmppCpu {
  relay: number;
  relayMain: number;
  prosody: number;
  clients: number;
  /**
   * Time Prosody's thread was runnable but waited for a CPU, per message
   * (schedstat): high values mean other load on the box shaped the run.
   */
  prosodyWait?: number;
}

export interface XmppRun {
  msgs: number;
  secs: number;
  rate: number;
  /** Rate mode: gaps > 10 ms between two deliveries to the receiver. */
  stalls?: number;
  p50_us?: number;
  p99_us?: number;
  cpu?: XmppCpu;
}

export interface XmppSide {
  runs: XmppRun[];
  rate: number;
  /** Spread of the rounds' rates. */
  rateMin?: number;
  rateMax?: number;
  /** Median over rounds of rate / the direct rate of the same round. */
  vsDirectPerRound?: number;
  /** Median over rounds of p99 - the direct p99 of the same round (latency mode). */
  p99AddedPerRound_us?: number;
  p50_us: number;
  p99_us: number;
  /** Medians of the runs' CPU per message, when measured. */
  cpu?: XmppCpu;
}

/** Pids whose CPU is read around each run (0 or absent: not measured). */
export interface XmppPids {
  gateway?: number;
  prosody?: number;
}

export interface XmppRow {
  mode: 'latency' | 'rate';
  bodyBytes: number;
  direct: XmppSide;
  /** Bare Node SOCKS5 pipe relay: the cost of one relay hop without inspection. */
  pipe: XmppSide;
  gateway: XmppSide;
}

export interface XmppBenchResult {
  prosody: string;
  secs: number;
  rounds: number;
  /** Messages in flight in rate mode, and whether Prosody ran with Nagle (older results lack both). */
  window?: number;
  prosodyNagle?: boolean;
  rows: XmppRow[];
}

export interface XmppSettings {
  secs: number;
  rounds: number;
  bodyBytes: number;
}

let runNo = 0;

async function pair(via: Target): Promise<{ tx: XmppConn; rx: XmppConn }> {
  const n = ++runNo;
  const rx = await xmppLogin({ mode: 'direct', proxyPort: 0, dstPort: via.dstPort }, BENCH_XMPP_DOMAIN, 'rx', 'rxpw', `r${n}`);
  const tx = await xmppLogin(via, BENCH_XMPP_DOMAIN, 'tx', 'txpw', `t${n}`);
  return { tx, rx };
}

function close(c: XmppConn): void {
  c.sock.end('</stream:stream>');
  setTimeout(() => c.sock.destroy(), 200).unref();
}

function stanza(to: string, seq: number, pad: string): string {
  return `<message to='${to}' type='chat' id='m${seq}'><body>${seq} ${pad}</body></message>`;
}

function latencyRun(tx: XmppConn, rx: XmppConn, secs: number, pad: string): Promise<XmppRun> {
  return new Promise((resolve) => {
    const lat: number[] = [];
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + secs * 1000;
    let seq = 0;
    let sentAt = 0n;
    const send = (): void => {
      if (Date.now() >= deadline) {
        const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
        lat.sort((a, b) => a - b);
        resolve({ msgs: lat.length, secs: elapsed, rate: lat.length / elapsed, p50_us: quantile(lat, 0.5), p99_us: quantile(lat, 0.99) });
        return;
      }
      seq++;
      sentAt = process.hrtime.bigint();
      tx.sock.write(stanza(rx.jid, seq, pad));
    };
    rx.onBody = (b) => {
      if (parseInt(b, 10) !== seq) return;
      lat.push(Number(process.hrtime.bigint() - sentAt) / 1e3);
      send();
    };
    send();
  });
}

function rateRun(tx: XmppConn, rx: XmppConn, secs: number, pad: string): Promise<XmppRun> {
  return new Promise((resolve) => {
    let sent = 0;
    let got = 0;
    let stopping = false;
    let stalls = 0;
    let last = performance.now();
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      stopping = true;
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ msgs: got, secs: elapsed, rate: got / elapsed, stalls });
    }, secs * 1000);
    const pump = (): void => {
      while (!stopping && sent - got < XMPP_WINDOW) tx.sock.write(stanza(rx.jid, ++sent, pad));
    };
    rx.onBody = () => {
      got++;
      const now = performance.now();
      if (now - last > 10) stalls++;
      last = now;
      pump();
    };
    pump();
  });
}

/** `direct`: the direct runs of the same rounds (absent for the direct side itself). */
function side(runs: XmppRun[], direct?: XmppRun[]): XmppSide {
  const rates = runs.map((r) => r.rate);
  const out: XmppSide = {
    runs,
    rate: median(rates),
    rateMin: Math.min(...rates),
    rateMax: Math.max(...rates),
    p50_us: median(runs.map((r) => r.p50_us ?? NaN)),
    p99_us: median(runs.map((r) => r.p99_us ?? NaN)),
  };
  if (direct !== undefined) {
    out.vsDirectPerRound = median(runs.map((r, k) => r.rate / (direct[k] as XmppRun).rate));
    out.p99AddedPerRound_us = median(runs.map((r, k) => (r.p99_us ?? NaN) - ((direct[k] as XmppRun).p99_us ?? NaN)));
  }
  const cpus = runs.map((r) => r.cpu).filter((c): c is XmppCpu => c !== undefined);
  if (cpus.length > 0) {
    const m = (f: (c: XmppCpu) => number): number => median(cpus.map(f));
    out.cpu = { relay: m((c) => c.relay), relayMain: m((c) => c.relayMain), prosody: m((c) => c.prosody), clients: m((c) => c.clients), prosodyWait: m((c) => c.prosodyWait ?? NaN) };
  }
  return out;
}

/** `once` with the CPU of the relay (`relayPid`, 0 for direct), Prosody and this process read around it. */
async function onceCounted(mode: 'latency' | 'rate', via: Target, s: XmppSettings, pad: string, relayPid: number, prosodyPid: number): Promise<XmppRun> {
  if (!prosodyPid) return once(mode, via, s, pad);
  const rb = cpuMark(relayPid);
  const pb = cpuMark(prosodyPid);
  const cb = selfMark();
  const run = await once(mode, via, s, pad);
  const r = perMessage(rb, cpuMark(relayPid), run.msgs);
  const p = perMessage(pb, cpuMark(prosodyPid), run.msgs);
  run.cpu = { relay: r.all, relayMain: r.main, prosody: p.all, clients: perMessage(cb, selfMark(), run.msgs).all, prosodyWait: p.mainWait };
  return run;
}

/** One run of `mode` through `via` (used by the profiling script too). */
export async function once(mode: 'latency' | 'rate', via: Target, s: XmppSettings, pad: string): Promise<XmppRun> {
  const { tx, rx } = await pair(via);
  try {
    return mode === 'latency' ? await latencyRun(tx, rx, s.secs, pad) : await rateRun(tx, rx, s.secs, pad);
  } finally {
    close(tx);
    close(rx);
  }
}

/**
 * Runs both modes; `prosodyPort` is Prosody's c2s port, `socksPort` imgate's
 * SOCKS5 door. The bare pipe relay is started here (and stopped) so callers
 * need not know about it.
 */
export async function runXmpp(s: XmppSettings, prosodyPort: number, socksPort: number, prosodyName: string, pids: XmppPids = {}): Promise<XmppBenchResult> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgate-xmpp-pipe-'));
  const pipePort = await freePort();
  const relay = await startPipeRelay(tmp, pipePort);
  try {
    return await runAll(s, prosodyPort, socksPort, pipePort, prosodyName, { gateway: pids.gateway ?? 0, pipe: relay.cp.pid ?? 0, prosody: pids.prosody ?? 0 });
  } finally {
    await stopDaemon(relay);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function runAll(
  s: XmppSettings,
  prosodyPort: number,
  socksPort: number,
  pipePort: number,
  prosodyName: string,
  pids: { gateway: number; pipe: number; prosody: number },
): Promise<XmppBenchResult> {
  const direct: Target = { mode: 'direct', proxyPort: 0, dstPort: prosodyPort };
  const pipe: Target = { mode: 'socks5', proxyPort: pipePort, dstPort: prosodyPort };
  const gateway: Target = { mode: 'socks5', proxyPort: socksPort, dstPort: prosodyPort };
  const pad = 'x'.repeat(Math.max(0, s.bodyBytes - 8));
  // Warm-up (not recorded): JIT in imgate's relay and XMPP dissector and in
  // the pipe relay, Prosody's caches, the clients' own code; both modes on
  // every path, so no path's first measured round pays for it.
  for (const via of [gateway, pipe, direct]) {
    await once('rate', via, { ...s, secs: Math.min(2, s.secs) }, pad);
    await once('latency', via, { ...s, secs: 1 }, pad);
  }
  progress('xmpp warm-up done (not recorded)');
  const rows: XmppRow[] = [];
  for (const mode of ['latency', 'rate'] as const) {
    const d: XmppRun[] = [];
    const p: XmppRun[] = [];
    const g: XmppRun[] = [];
    for (let i = 0; i < s.rounds; i++) {
      const a = await onceCounted(mode, direct, s, pad, 0, pids.prosody);
      const c = await onceCounted(mode, pipe, s, pad, pids.pipe, pids.prosody);
      const b = await onceCounted(mode, gateway, s, pad, pids.gateway, pids.prosody);
      d.push(a);
      p.push(c);
      g.push(b);
      const show = (x: XmppRun): string =>
        `${x.rate.toFixed(0)} msg/s${x.stalls ? ` (${x.stalls} stalls > 10 ms)` : ''}${x.p99_us !== undefined ? ` p50 ${x.p50_us?.toFixed(0)} us p99 ${x.p99_us.toFixed(0)} us` : ''}${x.cpu ? ` (cpu us/msg: relay ${x.cpu.relay.toFixed(1)}, prosody ${x.cpu.prosody.toFixed(1)}, prosody waiting ${x.cpu.prosodyWait?.toFixed(1)})` : ''}`;
      progress(`xmpp ${mode} round ${i + 1}: direct ${show(a)}; pipe relay ${show(c)}; imgate ${show(b)}`);
    }
    rows.push({ mode, bodyBytes: s.bodyBytes, direct: side(d), pipe: side(p, d), gateway: side(g, d) });
  }
  return { prosody: prosodyName, secs: s.secs, rounds: s.rounds, window: XMPP_WINDOW, prosodyNagle: PROSODY_NAGLE, rows };
}

/** Markdown: CPU microseconds per message by process and path (rows measured with pids only). */
export function xmppCpuTable(r: XmppBenchResult): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
  const lines = [
    'CPU per delivered message (us; /proc utime+stime; medians of the same runs):',
    '',
    '| mode | path | relay, all threads | relay main thread | Prosody | clients | sum | Prosody waiting for a CPU (other load) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    for (const [name, x] of [['direct', row.direct], ['bare Node pipe relay', row.pipe], ['imgate, inspection on', row.gateway]] as const) {
      const c = x.cpu;
      if (c === undefined) continue;
      const relay = name === 'direct' ? 0 : c.relay;
      lines.push(`| ${row.mode} | ${name} | ${name === 'direct' ? '-' : f(c.relay)} | ${name === 'direct' ? '-' : f(c.relayMain)} | ${f(c.prosody)} | ${f(c.clients)} | ${f(relay + c.prosody + c.clients)} | ${f(c.prosodyWait ?? NaN)} |`);
    }
  }
  return lines.join('\n');
}
