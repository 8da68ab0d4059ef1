// Connections/s: closed loop of cfg.connClients clients, each connection a
// full CONNECT + 16-byte request + 64-byte response + close, per path, in
// alternating rounds; the median is reported.
import path from 'node:path';
import { runToEnd, lastJson } from '../lib/proc';
import { progress } from '../lib/log';
import { median } from '../lib/stats';
import type { BenchConfig } from '../lib/config';
import type { PathTarget } from './targets';

export interface ConnRun { cps: number; conns: number; errors: number; firstError: string; p50_ms: number; p99_ms: number }
export interface ConnRow { target: PathTarget; runs: ConnRun[]; cps: number; p50_ms: number; p99_ms: number; errors: number }

const CLIENT = path.resolve(__dirname, '..', 'load', 'conn-client.js');

async function once(cfg: BenchConfig, t: PathTarget, originPort: number): Promise<ConnRun> {
  const args = [CLIENT, t.mode, String(t.proxyPort), String(originPort), String(cfg.connClients), String(cfg.connSecs)];
  const r = await runToEnd(process.execPath, args, cfg.connSecs * 1000 + 15000);
  try {
    return lastJson<ConnRun>(r.stdout, `conn ${t.name}`);
  } catch (e) {
    return { cps: NaN, conns: 0, errors: 1, firstError: `${(e as Error).message} (exit ${r.code})`, p50_ms: NaN, p99_ms: NaN };
  }
}

export async function runConn(cfg: BenchConfig, targets: PathTarget[], originPort: number): Promise<ConnRow[]> {
  const runs = new Map<string, ConnRun[]>(targets.map((t) => [t.key, []]));
  for (let i = 0; i < cfg.connRounds; i++) {
    for (const t of targets) {
      const r = await once(cfg, t, originPort);
      runs.get(t.key)!.push(r);
      progress(`conn round ${i + 1} ${t.name}: ${r.cps.toFixed(0)} conn/s p50 ${r.p50_ms.toFixed(2)} ms errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`);
    }
  }
  return targets.map((t) => {
    const rs = runs.get(t.key)!;
    return {
      target: t,
      runs: rs,
      cps: median(rs.map((r) => r.cps)),
      p50_ms: median(rs.map((r) => r.p50_ms)),
      p99_ms: median(rs.map((r) => r.p99_ms)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
    };
  });
}
