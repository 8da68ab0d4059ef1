// ngircd 26 as the real IRC server (peers.md §5): loopback, a free port, a
// temp dir, MaxPenaltyTime 0 so bursts of test lines are not throttled.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon } from './process';
import { freePort, waitPort } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';

export const NGIRCD_NAME = 'irc.imgate.test';

export class Ngircd {
  daemon!: Daemon;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<Ngircd> {
    const dir = makeTempDir('ngircd');
    const port = await freePort();
    const n = new Ngircd(dir, port);
    const ndir = path.join(dir, 'ngircd');
    fs.mkdirSync(ndir);
    const conf = [
      '[Global]',
      `\tName = ${NGIRCD_NAME}`,
      '\tInfo = imgate lab ircd',
      '\tAdminInfo1 = lab',
      '\tAdminInfo2 = lab',
      '\tAdminEMail = lab@localhost',
      '\tListen = 127.0.0.1',
      `\tPorts = ${port}`,
      `\tPidFile = ${ndir}/ngircd.pid`,
      '\tMotdPhrase = "imgate lab"',
      ...(isRoot() ? ['\tServerUID = nobody', '\tServerGID = nogroup'] : []),
      '[Limits]',
      '\tMaxConnections = 0',
      '\tMaxConnectionsIP = 0',
      '\tMaxJoins = 0',
      '\tMaxNickLength = 30',
      '\tMaxPenaltyTime = 0',
      '\tPingTimeout = 300',
      '\tPongTimeout = 60',
      '[Options]',
      '\tDNS = no',
      '\tIdent = no',
      '\tPAM = no',
      '\tSyslogFacility = none',
      '',
    ].join('\n');
    const confPath = path.join(ndir, 'ngircd.conf');
    fs.writeFileSync(confPath, conf);
    // The pidfile is written after dropping to nobody.
    chownTree(ndir, 'nobody', 'nogroup');
    n.daemon = new Daemon('ngircd', 'ngircd', ['-n', '-f', confPath], { logFile: path.join(ndir, 'ngircd.log') });
    try {
      await waitPort(port, { alive: () => n.daemon.alive(), what: 'ngircd' });
    } catch (err) {
      await n.stop();
      throw new Error(`${(err as Error).message}\n${n.daemon.stdout()}${n.daemon.stderr()}`);
    }
    return n;
  }

  async stop(): Promise<void> {
    if (this.daemon?.alive()) await this.daemon.stop(5000);
    removeTempDir(this.dir);
  }
}
