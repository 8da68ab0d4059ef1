// The cost of recording (issue 6: "recording costs < 10% of message
// throughput"). Three imgates started alike, differing only in the record
// store: audit off (the baseline), audit on with SQLite writes on the main
// thread (IMGATE_AUDIT_WRITER=inline, the design before the writer thread),
// and audit on as shipped (writer thread). Measured, alternating within each
// round: IRC messages/s through the inspecting SOCKS5 door (closed-loop
// latency runs and a stream of lines), and web IM REQMOD req/s on the ICAP
// door; stored events are counted from each gateway's own metrics.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { progress } from '../lib/log';
import { metric, scrape } from '../lib/metrics';
import { freePort } from '../lib/ports';
import { lastJson, runToEnd, stopDaemon, type Daemon } from '../lib/proc';
import { median } from '../lib/stats';
import { startNgircd } from '../peers/ngircd';
import { startImgate } from '../peers/imgate';

/** 'before': audit on as shipped, but run from another build (BENCH_RECORD_BEFORE, a copy of an older bin/ + dist/) for an A/B in the same run. */
export type RecordMode = 'off' | 'inline' | 'thread' | 'before';
export const RECORD_MODES: readonly RecordMode[] = ['off', 'inline', 'thread'];
export const ALL_RECORD_MODES: readonly RecordMode[] = ['off', 'inline', 'thread', 'before'];
export type RecordWhat = 'irc-latency' | 'irc-bulk' | 'webim-reqmod';
export const RECORD_WHATS: readonly RecordWhat[] = ['irc-latency', 'irc-bulk', 'webim-reqmod'];

export interface RecordSettings {
  secs: number;
  rounds: number;
  bulkLines: number;
  icapConns: number;
  /** Which of the gateways to run (default off, inline, thread). */
  modes?: readonly RecordMode[];
  /** Which workloads to run (default all). */
  whats?: readonly RecordWhat[];
  /** The older build the 'before' gateway runs from (a directory with bin/ and dist/). */
  beforeRoot?: string;
}

export interface RecordSide {
  /** Per-round figures; the median is reported. */
  runs: number[];
  median: number;
  /** Events the gateway stored during these runs (imgate_audit_written_total). */
  stored: number;
  /** Events dropped by a full queue during these runs. */
  dropped: number;
  /**
   * CPU the gateway process (all its threads) spent per message or request,
   * in microseconds, median over rounds: steadier than throughput on a
   * shared machine, and it shows what recording adds per event.
   */
  cpuUsPerOp?: number;
  cpuRuns?: number[];
}

export interface RecordRow {
  what: RecordWhat;
  unit: 'msg/s' | 'req/s';
  sides: Partial<Record<RecordMode, RecordSide>>;
}

export interface RecordResult {
  settings: RecordSettings;
  rows: RecordRow[];
  errors: string[];
}

interface Gw {
  mode: RecordMode;
  d: Daemon;
  socks: number;
  icap: number;
  admin: number;
}

async function startGw(repoRoot: string, tmp: string, mode: RecordMode, beforeRoot?: string): Promise<Gw> {
  if (mode === 'before' && !beforeRoot) throw new Error("record mode 'before' needs BENCH_RECORD_BEFORE (a copy of an older build)");
  const root = mode === 'before' ? (beforeRoot as string) : repoRoot;
  const g = await startImgate(root, tmp, `imgate-record-${mode}`, [], true, 0, {
    // warn for every variant: with the store off the gateway logs each allowed
    // IM event at info (the log is then the only record), so an info-level
    // comparison would measure that logging, not what the store costs.
    logLevel: process.env.BENCH_IMGATE_LOG ?? 'warn',
    extraYaml: `audit:\n  enabled: ${mode !== 'off'}\n`,
    env: { ...process.env, IMGATE_AUDIT_WRITER: mode === 'inline' ? 'inline' : 'thread' },
  });
  return { mode, d: g, socks: g.ports.socks5, icap: g.ports.icap, admin: g.ports.admin };
}

const IRC_GEN = (repoRoot: string): string => path.join(repoRoot, 'dist', 'bench', 'load', 'irc-load.js');
const ICAP_GEN = (repoRoot: string): string => path.join(repoRoot, 'dist', 'bench', 'load', 'icap-reqload.js');
let runNo = 0;

/** One measured run: its rate and how many messages or requests that was. */
interface Run {
  rate: number;
  ops: number;
}

/** CPU time (user + system, every thread) of a process so far, in microseconds; NaN where /proc is absent. */
function cpuUs(pid: number | undefined): number {
  try {
    // Fields after the parenthesised command: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** USER_HZ: 100 on every Linux this bench runs on. */
const CLOCK_TICKS = 100;

/** IRC messages per second through the gateway's SOCKS5 door. */
async function irc(repoRoot: string, mode: 'latency' | 'bulk', socks: number, ircPort: number, secs: number, count: number): Promise<Run> {
  const tag = `r${process.pid % 1000}x${++runNo}`;
  const lineBytes = mode === 'latency' ? 100 : 480;
  const r = await runToEnd(process.execPath, [IRC_GEN(repoRoot), mode, 'socks5', String(socks), String(ircPort), String(secs), String(count), String(lineBytes), tag], (secs + 40) * 1000);
  const j = lastJson<{ msgs: number; secs: number; rate: number; error?: string }>(r.stdout, `irc-load ${mode}`);
  if (j.error && !j.msgs) throw new Error(`irc-load ${mode}: ${j.error}`);
  // Bulk runs report bytes; messages per second is what the target is about.
  return { rate: mode === 'latency' ? j.rate : j.msgs / j.secs, ops: j.msgs };
}

async function reqmod(repoRoot: string, icap: number, conns: number, secs: number): Promise<Run> {
  const r = await runToEnd(process.execPath, [ICAP_GEN(repoRoot), '127.0.0.1', String(icap), 'reqmod', String(conns), String(secs), '1024', '200'], secs * 1000 + 15000);
  const j = lastJson<{ rps: number; requests: number; errors: number }>(r.stdout, 'icap-reqload reqmod');
  return { rate: j.rps, ops: j.requests };
}

async function counters(g: Gw): Promise<{ written: number; dropped: number }> {
  const t = await scrape(g.admin);
  const m = (name: string): number => {
    const v = metric(t, name);
    return Number.isFinite(v) ? v : 0;
  };
  return { written: m('imgate_audit_written_total'), dropped: m('imgate_audit_dropped_total') };
}

export async function runRecord(repoRoot: string, tmp: string, s: RecordSettings): Promise<RecordResult> {
  const modes = s.modes ?? RECORD_MODES;
  const out: RecordResult = { settings: s, rows: [], errors: [] };
  const started: Daemon[] = [];
  try {
    const ircPort = await freePort();
    started.push(await startNgircd(tmp, ircPort));
    const gws: Gw[] = [];
    for (const m of modes) {
      const g = await startGw(repoRoot, tmp, m, s.beforeRoot);
      started.push(g.d);
      gws.push(g);
    }
    progress(`record: ngircd :${ircPort}; imgates ${gws.map((g) => `${g.mode} socks :${g.socks} icap :${g.icap}`).join(', ')}`);
    // Warm-up, not recorded: JIT, SQLite pages, ngircd.
    const whats = s.whats ?? RECORD_WHATS;
    for (const g of gws) {
      if (whats.some((w) => w.startsWith('irc'))) await irc(repoRoot, 'latency', g.socks, ircPort, 1, 1e6);
      if (whats.includes('webim-reqmod')) await reqmod(repoRoot, g.icap, s.icapConns, 1);
    }
    const all: Array<{ what: RecordWhat; unit: RecordRow['unit']; run: (g: Gw) => Promise<Run> }> = [
      { what: 'irc-latency', unit: 'msg/s', run: (g) => irc(repoRoot, 'latency', g.socks, ircPort, s.secs, 1e6) },
      { what: 'irc-bulk', unit: 'msg/s', run: (g) => irc(repoRoot, 'bulk', g.socks, ircPort, 30, s.bulkLines) },
      { what: 'webim-reqmod', unit: 'req/s', run: (g) => reqmod(repoRoot, g.icap, s.icapConns, s.secs) },
    ];
    const plan = all.filter((p) => (s.whats ?? RECORD_WHATS).includes(p.what));
    for (const p of plan) {
      const row: RecordRow = { what: p.what, unit: p.unit, sides: {} };
      const runs = new Map<RecordMode, number[]>(gws.map((g) => [g.mode, []]));
      const cpu = new Map<RecordMode, number[]>(gws.map((g) => [g.mode, []]));
      const before = new Map<RecordMode, { written: number; dropped: number }>();
      for (const g of gws) before.set(g.mode, await counters(g));
      for (let i = 0; i < s.rounds; i++) {
        // Alternate the order each round so drift does not favour one side.
        const order = i % 2 === 0 ? gws : [...gws].reverse();
        for (const g of order) {
          const c0 = cpuUs(g.d.cp.pid);
          const r = await p.run(g);
          // Includes the queue's drain right after the run only in part: the next run's window takes the rest.
          runs.get(g.mode)?.push(r.rate);
          cpu.get(g.mode)?.push((cpuUs(g.d.cp.pid) - c0) / r.ops);
        }
        progress(`record ${p.what} round ${i + 1}: ${gws.map((g) => `${g.mode} ${(runs.get(g.mode)?.[i] ?? NaN).toFixed(0)} ${p.unit} ${(cpu.get(g.mode)?.[i] ?? NaN).toFixed(1)} us CPU/op`).join('; ')}`);
      }
      for (const g of gws) {
        const a = before.get(g.mode) ?? { written: 0, dropped: 0 };
        const b = await counters(g);
        const r = runs.get(g.mode) ?? [];
        const c = cpu.get(g.mode) ?? [];
        row.sides[g.mode] = { runs: r, median: median(r), stored: b.written - a.written, dropped: b.dropped - a.dropped, cpuUsPerOp: median(c), cpuRuns: c };
      }
      out.rows.push(row);
    }
  } catch (err) {
    out.errors.push((err as Error).message.slice(0, 400));
    progress(`FAILED record: ${(err as Error).message}`);
  } finally {
    for (const d of started.reverse()) await stopDaemon(d);
  }
  return out;
}
