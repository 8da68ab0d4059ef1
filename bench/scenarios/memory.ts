// Memory per idle inspected tunnel: a fresh imgate (so earlier sections'
// heap does not blur the baseline), N SOCKS5 tunnels to a holder that keeps
// them open and silent, each starting with an IRC registration so an IRC
// dissector session exists per tunnel. RSS and V8 heap used come from
// imgate's own /metrics before and after (after a settle time); the
// difference divided by N is the per-tunnel cost. N is capped by the
// RLIMIT_NOFILE hard limit: imgate needs two descriptors per tunnel.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, stopDaemon, unlessExits } from '../lib/proc';
import { freePort, waitPort } from '../lib/ports';
import { metric, scrape } from '../lib/metrics';
import { progress } from '../lib/log';
import { startImgate } from '../peers/imgate';
import type { BenchConfig } from '../lib/config';

export interface MemSample { rssBytes: number; heapUsedBytes: number; activeConns: number; ircTunnels: number }

export interface MemResult {
  requested: number;
  n: number;
  nofileHard: number;
  opened: number;
  errors: number;
  firstError: string;
  openSecs: number;
  settleSecs: number;
  before: MemSample;
  after: MemSample;
  rssPerTunnel: number;
  heapPerTunnel: number;
}

const DIST = path.resolve(__dirname, '..');
const SETTLE_SECS = 5;

function nofileHard(): number {
  const m = /Max open files\s+\d+\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m ? 1024 : m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
}

async function sample(adminPort: number): Promise<MemSample> {
  const t = await scrape(adminPort);
  return {
    rssBytes: metric(t, 'process_resident_memory_bytes'),
    heapUsedBytes: metric(t, 'nodejs_heap_size_used_bytes'),
    activeConns: metric(t, 'imgate_connections_active') || 0, // no samples yet = 0
    ircTunnels: metric(t, 'imgate_tunnels_by_protocol_total', '"irc"') || 0,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll a daemon's log for its JSON "ready" line (bounded). */
async function readyLine(file: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { /* not yet written */ }
    const line = text.split('\n').find((l) => l.startsWith('{"ready"'));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await sleep(250);
  }
  throw new Error(`no ready line in ${file} after ${timeoutMs} ms`);
}

export async function runMemory(cfg: BenchConfig, tmp: string): Promise<MemResult> {
  const hard = nofileHard();
  // Two fds per tunnel in imgate plus headroom for its listeners, logs, peers.
  const n = Math.min(cfg.memTunnels, Math.floor((hard - 400) / 2));
  const g = await startImgate(cfg.repoRoot, tmp, 'imgate-mem', [], false, hard);
  const holdPort = await freePort();
  const holder = startDaemon('holder', 'prlimit', [`--nofile=${hard}:${hard}`, process.execPath, path.join(DIST, 'load', 'holder.js'), String(holdPort)], path.join(tmp, 'holder.out'));
  await unlessExits(holder, waitPort(holdPort));
  await sleep(2000);
  const before = await sample(g.ports.admin);
  const outFile = path.join(tmp, 'tunnel-open.out');
  const opener = startDaemon('tunnel-open', 'prlimit', [`--nofile=${hard}:${hard}`, process.execPath, path.join(DIST, 'load', 'tunnel-open.js'), String(g.ports.socks5), String(holdPort), String(n), '64', '300'], outFile);
  try {
    const r = await unlessExits(opener, readyLine(outFile, 120000));
    progress(`mem: ${String(r.opened)} tunnels up in ${String(r.openSecs)} s (${String(r.errors)} errors); settling ${SETTLE_SECS} s`);
    await sleep(SETTLE_SECS * 1000);
    const after = await sample(g.ports.admin);
    const opened = Number(r.opened);
    return {
      requested: cfg.memTunnels, n, nofileHard: hard, opened, errors: Number(r.errors), firstError: String(r.firstError ?? ''),
      openSecs: Number(r.openSecs), settleSecs: SETTLE_SECS, before, after,
      rssPerTunnel: (after.rssBytes - before.rssBytes) / opened,
      heapPerTunnel: (after.heapUsedBytes - before.heapUsedBytes) / opened,
    };
  } finally {
    await stopDaemon(opener);
    await stopDaemon(holder);
    await stopDaemon({ cp: g.cp, name: g.name });
  }
}
