// iperf3 (3.12): the standard TCP throughput tool, as a second opinion on
// the Node bulk sender/sink. Its server runs on a free loopback port; the
// client reaches it directly, through a plain forwarder (HAProxy), or
// through a SOCKS5 relay under proxychains4, which hooks connect() so both
// iperf3 connections (control and data) go through the relay.
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { waitPort } from '../lib/ports';

export function iperf3Version(): string | null {
  try {
    const out = execFileSync('iperf3', ['--version'], { encoding: 'utf8' });
    return /iperf \S+/.exec(out)?.[0] ?? 'iperf3';
  } catch {
    return null;
  }
}

export function proxychainsAvailable(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v proxychains4'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startIperf3Server(tmp: string, port: number): Promise<Daemon> {
  const d = startDaemon('iperf3-server', 'iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)], path.join(tmp, 'iperf3-server.out'));
  await unlessExits(d, waitPort(port));
  return d;
}

/** A proxychains4 config that sends every connect() through one SOCKS5 proxy on loopback. */
export function proxychainsConf(tmp: string, socksPort: number): string {
  const file = path.join(tmp, `proxychains-${socksPort}.conf`);
  // No localnet exclusion: the destination is 127.0.0.1 and must be proxied.
  writeFileSync(file, `strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\nsocks5 127.0.0.1 ${socksPort}\n`);
  return file;
}
