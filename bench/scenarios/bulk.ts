// SOCKS5 bulk throughput: one TCP stream of cfg.bulkBytes, sender -> path ->
// sink, for every path in alternating rounds; the median is reported.
import path from 'node:path';
import { runToEnd, lastJson } from '../lib/proc';
import { progress } from '../lib/log';
import { median } from '../lib/stats';
import type { BenchConfig } from '../lib/config';
import type { PathTarget } from './targets';

export interface BulkRun { mbps: number; secs: number; error?: string }
export interface BulkRow { target: PathTarget; runs: BulkRun[]; mbps: number }

const CLIENT = path.resolve(__dirname, '..', 'load', 'bulk-client.js');

async function once(cfg: BenchConfig, t: PathTarget, sinkPort: number): Promise<BulkRun> {
  // Bound: even at 20 MB/s the transfer ends well inside this.
  const bound = 30000 + cfg.bulkBytes / 20e3;
  const r = await runToEnd(process.execPath, [CLIENT, t.mode, String(t.proxyPort), String(sinkPort), String(cfg.bulkBytes)], bound);
  try {
    const j = lastJson<{ mbps?: number; secs?: number; error?: string }>(r.stdout, `bulk ${t.name}`);
    if (j.error) return { mbps: NaN, secs: NaN, error: j.error };
    return { mbps: j.mbps ?? NaN, secs: j.secs ?? NaN };
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
      progress(`bulk round ${i + 1} ${t.name}: ${r.error ? `error ${r.error}` : `${r.mbps.toFixed(0)} MB/s (${r.secs.toFixed(2)} s)`}`);
    }
  }
  return targets.map((t) => {
    const rs = runs.get(t.key)!;
    const ok = rs.filter((r) => !r.error).map((r) => r.mbps);
    return { target: t, runs: rs, mbps: median(ok) };
  });
}
