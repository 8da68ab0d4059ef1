// ngircd 26 as the IRC peer (peers.md §5; same config as
// test/interop/helpers/ngircd.ts): loopback, free port, MaxPenaltyTime 0 so
// the flood throttle does not cap the message rate, no DNS/ident lookups.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { waitPort } from '../lib/ports';

export function ngircdVersion(): string {
  try {
    return execFileSync('ngircd', ['--version'], { encoding: 'utf8', timeout: 5000 }).split('\n')[0]!.trim();
  } catch {
    return 'ngircd (version unknown)';
  }
}

export async function startNgircd(tmp: string, port: number): Promise<Daemon> {
  const dir = path.join(tmp, 'ngircd');
  mkdirSync(dir, { recursive: true });
  const root = process.getuid?.() === 0;
  chmodSync(tmp, 0o755); // mkdtemp is 0700; nobody must reach its pidfile dir
  const conf = [
    '[Global]', '\tName = irc.imgate.test', '\tInfo = imgate bench ircd', '\tAdminInfo1 = lab', '\tAdminInfo2 = lab',
    '\tAdminEMail = lab@localhost', '\tListen = 127.0.0.1', `\tPorts = ${port}`, `\tPidFile = ${dir}/ngircd.pid`,
    '\tMotdPhrase = "imgate bench"', ...(root ? ['\tServerUID = nobody', '\tServerGID = nogroup'] : []),
    '[Limits]', '\tMaxConnections = 0', '\tMaxConnectionsIP = 0', '\tMaxJoins = 0', '\tMaxNickLength = 30',
    '\tMaxPenaltyTime = 0', '\tPingTimeout = 300', '\tPongTimeout = 60',
    '[Options]', '\tDNS = no', '\tIdent = no', '\tPAM = no', '\tSyslogFacility = none', '',
  ].join('\n');
  const confPath = path.join(dir, 'ngircd.conf');
  writeFileSync(confPath, conf);
  // The pidfile is written after ngircd drops to nobody.
  if (root) chownSync(dir, 65534, 65534);
  const d = startDaemon('ngircd', 'ngircd', ['-n', '-f', confPath], path.join(dir, 'ngircd.log'));
  await unlessExits(d, waitPort(port));
  return d;
}
