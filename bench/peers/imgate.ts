// imgate itself, started the way an operator does:
//   node bin/imgate.js start --config <tmp yaml>
// on free ports with the default allow policy. Optional extra node flags
// (e.g. --cpu-prof) for the profiling passes.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { freePort, waitPort } from '../lib/ports';

export interface ImgatePorts { icap: number; socks5: number; http: number; admin: number }

export interface Imgate extends Daemon { ports: ImgatePorts; dir: string }

export function imgateBuilt(repoRoot: string): boolean {
  return existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'));
}

/** ICAP can be switched off (BENCH_IMGATE_ICAP=0) to measure only the doors. */
export const imgateIcapEnabled = (): boolean => process.env.BENCH_IMGATE_ICAP !== '0';

/** The config: every door on its own free loopback port, logs at the shipped default level. */
function configYaml(dir: string, p: ImgatePorts, logLevel: string): string {
  return `data_dir: ${dir}/var
log: { level: ${logLevel} }
policy_file: ${dir}/policy.yaml
icap:
  enabled: ${p.icap !== 0}
  listen: { host: 127.0.0.1, port: ${p.icap} }
socks5:
  listen: { host: 127.0.0.1, port: ${p.socks5} }
http_proxy:
  listen: { host: 127.0.0.1, port: ${p.http} }
admin:
  listen: { host: 127.0.0.1, port: ${p.admin} }
`;
}

/** What a section changes in the shared config: the log level, extra top-level YAML (e.g. an `audit:` block), the environment. */
export interface ImgateVariant {
  logLevel?: string;
  extraYaml?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * `nofile`: run under `prlimit --nofile=N:N` (prlimit execs in place, so the
 * pid stays imgate's) for sections that hold thousands of sockets.
 */
export async function startImgate(repoRoot: string, tmp: string, name: string, nodeFlags: string[] = [], icap = imgateIcapEnabled(), nofile = 0, variant: ImgateVariant = {}): Promise<Imgate> {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  // icap 0 = ICAP disabled (not started, not measured).
  const ports: ImgatePorts = { icap: icap ? await freePort() : 0, socks5: await freePort(), http: await freePort(), admin: await freePort() };
  writeFileSync(path.join(dir, 'policy.yaml'), 'default: allow\nrules: []\n');
  const conf = path.join(dir, 'imgate.yaml');
  writeFileSync(conf, configYaml(dir, ports, variant.logLevel ?? process.env.BENCH_IMGATE_LOG ?? 'info') + (variant.extraYaml ?? ''));
  const argv = [...nodeFlags, path.join(repoRoot, 'bin', 'imgate.js'), 'start', '--config', conf];
  const spawnOpts = variant.env ? { cwd: dir, env: variant.env } : { cwd: dir };
  const d = nofile > 0
    ? startDaemon(name, 'prlimit', [`--nofile=${nofile}:${nofile}`, process.execPath, ...argv], path.join(dir, 'imgate.out'), spawnOpts)
    : startDaemon(name, process.execPath, argv, path.join(dir, 'imgate.out'), spawnOpts);
  await unlessExits(d, Promise.all([ports.icap ? waitPort(ports.icap) : null, waitPort(ports.socks5), waitPort(ports.http)]));
  return { ...d, ports, dir };
}
