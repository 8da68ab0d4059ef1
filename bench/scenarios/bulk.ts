// SOCKS5 bulk throughput: one TCP stream of cfg.bulkBytes, sender -> path ->
// sink, for every path in alternating rounds; the median is reported.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runToEnd, lastJson } from '../lib/proc';
import { progress } from '../lib/log';
import { median } from '../lib/stats';
import type { BenchConfig } from '../lib/config';
import type { PathTarget } from './targets';

/** cpuMsPerGiB: the relay process's user+system CPU per GiB relayed (absent for direct and multi-process relays). */
export interface BulkRun { mbps: number; secs: number; cpuMsPerGiB?: number; error?: string }
export interface BulkRow { target: PathTarget; runs: BulkRun[]; mbps: number; cpuMsPerGiB?: number }

/** utime + stime of a process, all threads, in ms (clock ticks are 10 ms on Linux). */
function cpuMs(pid: number): number {
  try {
    // Fields after the ")" of comm: utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return NaN;
  }
}

const CLIENT = path.resolve(__dirname, '..', 'load', 'bulk-client.js');

async function once(cfg: BenchConfig, t: PathTarget, sinkPort: number): Promise<BulkRun> {
  // Bound: even at 20 MB/s the transfer ends well inside this.
  const bound = 30000 + cfg.bulkBytes / 20e3;
  const c0 = t.cpuPid !== undefined ? cpuMs(t.cpuPid) : NaN;
  const r = await runToEnd(process.execPath, [CLIENT, t.mode, String(t.proxyPort), String(sinkPort), String(cfg.bulkBytes)], bound);
  try {
    const j = lastJson<{ mbps?: number; secs?: number; error?: string }>(r.stdout, `bulk ${t.name}`);
    if (j.error) return { mbps: NaN, secs: NaN, error: j.error };
    const run: BulkRun = { mbps: j.mbps ?? NaN, secs: j.secs ?? NaN };
    const cpu = t.cpuPid !== undefined ? cpuMs(t.cpuPid) - c0 : NaN;
    if (Number.isFinite(cpu)) run.cpuMsPerGiB = cpu / (cfg.bulkBytes / 2 ** 30);
    return run;
  } catch (e) {
    return { mbps: NaN, secs: NaN, error: `${(e as Error).message} (exit ${r.code})` };
  }
}

export async function runBulk(cfg: BenchConfig, targets: PathTarget[], sinkPort: number): Promise<BulkRow[]> {
  const runs = new Map<string, BulkRun[]>(targets.map((t) => [t.key, []]));
  for (let i = 0; i < cfg.bulkRounds; i++) {
    for (const t of targets) {
      const r = await once(cfg, t, sinkPort);
      runs.get(t.key)!.push(r);
      const cpu = r.cpuMsPerGiB !== undefined ? `, relay CPU ${r.cpuMsPerGiB.toFixed(0)} ms/GiB` : '';
      progress(`bulk round ${i + 1} ${t.name}: ${r.error ? `error ${r.error}` : `${r.mbps.toFixed(0)} MB/s (${r.secs.toFixed(2)} s${cpu})`}`);
    }
  }
  return targets.map((t) => {
    const rs = runs.get(t.key)!;
    const ok = rs.filter((r) => !r.error);
    const row: BulkRow = { target: t, runs: rs, mbps: median(ok.map((r) => r.mbps)) };
    const cpu = ok.flatMap((r) => (r.cpuMsPerGiB !== undefined ? [r.cpuMsPerGiB] : []));
    if (cpu.length) row.cpuMsPerGiB = median(cpu);
    return row;
  });
}
