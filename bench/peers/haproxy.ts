// HAProxy 2.6 as the reference TCP relay: a `mode tcp` forwarder per
// destination (it speaks no SOCKS, so the bench reaches it with the plain
// 'forward' handshake mode). It is the best a user-space relay does on this
// machine: C, edge-triggered epoll, and with `option splice-request` +
// `splice-response` the Linux splice(2) path, which moves bytes socket ->
// pipe -> socket without copying them through user space. Splice is NOT on
// by default in 2.6 (only the `option splice-*` keywords enable it), and
// `splice-auto` measured like no splice on loopback (it only splices once a
// buffer fills), so the bench forces it and also runs HAProxy without.
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { freePort, waitPort } from '../lib/ports';

export function haproxyVersion(): string {
  try {
    const out = execFileSync('haproxy', ['-v'], { encoding: 'utf8' });
    return /HAProxy version \S+/.exec(out)?.[0] ?? 'HAProxy (version unknown)';
  } catch {
    return 'HAProxy (not installed: scripts/install-bench-deps.sh)';
  }
}

export interface Forward {
  /** Loopback port HAProxy listens on. */
  listen: number;
  /** Loopback port it forwards every connection to. */
  to: number;
}

export interface HaproxyOptions {
  /** Use splice(2) both ways (`option splice-request` + `splice-response`). */
  splice: boolean;
  /** Worker threads; 1 matches the single-threaded Node relays. */
  threads: number;
}

function config(dir: string, fwds: Forward[], o: HaproxyOptions): string {
  const fronts = fwds.map((f, i) => `
frontend f${i}
  bind 127.0.0.1:${f.listen}
  default_backend b${i}
backend b${i}
  server s${i} 127.0.0.1:${f.to}
`).join('');
  return `global
  nbthread ${o.threads}
  maxconn 4000
  pidfile ${dir}/haproxy.pid
${o.splice ? '' : '  nosplice\n'}defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
${o.splice ? '  option splice-request\n  option splice-response\n' : ''}${fronts}`;
}

export async function startHaproxy(tmp: string, name: string, fwds: Forward[], o: HaproxyOptions): Promise<Daemon> {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'haproxy.cfg');
  writeFileSync(conf, config(dir, fwds, o));
  // -db: stay in the foreground, so the spawned pid is the one the bench stops.
  const d = startDaemon(name, 'haproxy', ['-db', '-f', conf], path.join(dir, 'haproxy.out'));
  await unlessExits(d, Promise.all(fwds.map((f) => waitPort(f.listen))));
  return d;
}

/** The HAProxy rows of the SOCKS/TCP sections: a forwarder per destination, since HAProxy has no SOCKS. */
export interface HaproxyRows {
  name: string;
  key: 'haproxy' | 'haproxy-splice';
  daemon: Daemon;
  /** Forwarder ports by destination. */
  sink: number;
  origin: number;
  iperf?: number;
}

/** Start HAProxy twice (splice off / forced on), each forwarding to the sink, the origin and optionally an iperf3 server. */
export async function startHaproxyRows(tmp: string, dest: { sink: number; origin: number; iperf?: number }): Promise<HaproxyRows[]> {
  const out: HaproxyRows[] = [];
  const version = haproxyVersion().replace('HAProxy version ', 'HAProxy ');
  for (const splice of [false, true]) {
    const sink = await freePort();
    const origin = await freePort();
    const iperf = dest.iperf !== undefined ? await freePort() : undefined;
    const fwds: Forward[] = [{ listen: sink, to: dest.sink }, { listen: origin, to: dest.origin }];
    if (iperf !== undefined && dest.iperf !== undefined) fwds.push({ listen: iperf, to: dest.iperf });
    const key = splice ? 'haproxy-splice' : 'haproxy';
    const daemon = await startHaproxy(tmp, key, fwds, { splice, threads: 1 });
    const row: HaproxyRows = { name: `${version} tcp forward, 1 thread${splice ? ', splice' : ', no splice'}`, key, daemon, sink, origin };
    if (iperf !== undefined) row.iperf = iperf;
    out.push(row);
  }
  return out;
}
