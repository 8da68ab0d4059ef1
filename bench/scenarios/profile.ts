// CPU profiles of imgate under load (node --cpu-prof, written when imgate
// exits on SIGTERM). Separate imgate instances so each profile holds one
// workload; their throughput is not used for any ratio (profiling slows it).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runToEnd, startDaemon, stopDaemon, unlessExits } from '../lib/proc';
import { freePort, waitPort } from '../lib/ports';
import { progress } from '../lib/log';
import { imgateIcapEnabled, startImgate } from '../peers/imgate';
import { summariseProfile, type ProfileSummary } from '../lib/cpuprofile';
import type { BenchConfig } from '../lib/config';

export interface ProfileResult { name: string; load: string; summary: ProfileSummary | null; error?: string }

const BULK = path.resolve(__dirname, '..', 'load', 'bulk-client.js');
const CONN = path.resolve(__dirname, '..', 'load', 'conn-client.js');

const PIPE = path.resolve(__dirname, '..', 'peers', 'pipe-relay.js');

/** Profile the bare pipe relay under the same bulk load: the reference for imgate's prof-socks. */
async function profiledPipe(cfg: BenchConfig, tmp: string, load: string, drive: (ports: { icap: number; socks5: number }) => Promise<void>): Promise<ProfileResult> {
  const name = 'prof-pipe-relay';
  const profDir = path.join(tmp, `${name}-cpuprof`);
  const port = await freePort();
  const d = startDaemon(name, process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, PIPE, String(port)], path.join(tmp, `${name}.out`));
  await unlessExits(d, waitPort(port));
  return collect(cfg, name, load, profDir, d, () => drive({ icap: 0, socks5: port }));
}

async function collect(cfg: BenchConfig, name: string, load: string, profDir: string, d: Parameters<typeof stopDaemon>[0], run: () => Promise<void>): Promise<ProfileResult> {
  try {
    await run();
  } finally {
    const code = await stopDaemon(d);
    progress(`${name}: exited with ${code}`);
  }
  const files = (() => { try { return readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')); } catch { return []; } })();
  if (files.length === 0) return { name, load, summary: null, error: 'no .cpuprofile written (no clean exit on SIGTERM?)' };
  return { name, load, summary: summariseProfile(path.join(profDir, files[0]!), cfg.repoRoot) };
}

async function profiled(cfg: BenchConfig, tmp: string, name: string, load: string, drive: (ports: { icap: number; socks5: number }) => Promise<void>): Promise<ProfileResult> {
  const profDir = path.join(tmp, `${name}-cpuprof`);
  const g = await startImgate(cfg.repoRoot, tmp, name, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
  return collect(cfg, name, load, profDir, g, () => drive(g.ports));
}

export async function runProfiles(cfg: BenchConfig, tmp: string, sinkPort: number, originPort: number): Promise<ProfileResult[]> {
  const out: ProfileResult[] = [];
  const icapLoad = `icapload ${cfg.icapConns} conns, 1 KiB, mode 200, ${cfg.profileSecs} s`;
  if (imgateIcapEnabled()) {
    progress(`profile: imgate under ${icapLoad}`);
    out.push(await profiled(cfg, tmp, 'prof-icap', icapLoad, async (p) => {
      await runToEnd(process.execPath, [cfg.icapload, '127.0.0.1', String(p.icap), 'respmod', String(cfg.icapConns), String(cfg.profileSecs), '1024', '200'], cfg.profileSecs * 1000 + 15000);
    }));
  }
  const bulkLoad = `SOCKS5 bulk, repeated ${(cfg.bulkBytes / 2 ** 20).toFixed(0)} MiB streams for ~${cfg.profileSecs} s`;
  progress(`profile: imgate under ${bulkLoad}`);
  const bulk = async (p: { socks5: number }): Promise<void> => {
    const until = Date.now() + cfg.profileSecs * 1000;
    // Bounded: at most 50 streams even if each is very fast.
    for (let i = 0; i < 50 && Date.now() < until; i++) {
      await runToEnd(process.execPath, [BULK, 'socks5', String(p.socks5), String(sinkPort), String(cfg.bulkBytes)], 30000 + cfg.bulkBytes / 20e3);
    }
  };
  out.push(await profiled(cfg, tmp, 'prof-socks', bulkLoad, bulk));
  progress(`profile: bare Node pipe relay under ${bulkLoad} (reference)`);
  out.push(await profiledPipe(cfg, tmp, `${bulkLoad} (reference for prof-socks)`, bulk));
  const connLoad = `SOCKS5 connections/s, ${cfg.connClients} clients, ${cfg.profileSecs} s`;
  progress(`profile: imgate under ${connLoad}`);
  out.push(await profiled(cfg, tmp, 'prof-conn', connLoad, async (p) => {
    await runToEnd(process.execPath, [CONN, 'socks5', String(p.socks5), String(originPort), String(cfg.connClients), String(cfg.profileSecs)], cfg.profileSecs * 1000 + 15000);
  }));
  return out;
}
