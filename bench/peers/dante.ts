// Dante 1.4.2 (danted): the SOCKS5 baseline, config from
// /work/shared/peers.md section 6 on a free port, loopback destinations only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { waitPort } from '../lib/ports';

export function danteVersion(): string {
  let out = '';
  try {
    out = execFileSync('danted', ['-v'], { encoding: 'utf8' });
  } catch (e) {
    // danted -v may exit non-zero but still prints the version.
    out = (e as { stdout?: string }).stdout ?? '';
  }
  return /Dante v[\d.]+\d/.exec(out)?.[0] ?? 'Dante (version unknown)';
}

export async function startDante(tmp: string, port: number): Promise<Daemon> {
  const dir = path.join(tmp, 'dante');
  mkdirSync(dir, { recursive: true });
  // One keyword per line: danted rejects several on one line.
  const conf = `logoutput: ${dir}/danted.log
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect
  log: error
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: connect error
}
`;
  const confPath = path.join(dir, 'danted.conf');
  writeFileSync(confPath, conf);
  // Foreground (no -D): the spawned pid is the mother, which takes its children down on TERM.
  const d = startDaemon('danted', 'danted', ['-f', confPath, '-p', path.join(dir, 'danted.pid')], path.join(tmp, 'danted.out'));
  await unlessExits(d, waitPort(port));
  return d;
}
