// Dante 1.4.2 (danted) as the reference SOCKS5 server (peers.md §6): the same
// curl commands against Dante and imgate must give the same results, which
// shows the test's expectations are SOCKS semantics, not imgate quirks.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon } from './process';
import { freePort, waitPort } from './ports';
import { makeTempDir, removeTempDir } from './tmpdir';

export class Dante {
  daemon!: Daemon;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** denyPorts: destinations on 127.0.0.0/8 with these ports are refused (reply 0x02). */
  static async start(opts: { denyPorts?: number[] } = {}): Promise<Dante> {
    const dir = makeTempDir('dante');
    const port = await freePort();
    const d = new Dante(dir, port);
    const ddir = path.join(dir, 'dante');
    fs.mkdirSync(ddir);
    // One keyword per line: danted rejects "log: error" on the same line (peers.md §6).
    const deny = (opts.denyPorts ?? []).map((p) =>
      ['socks block {', `  from: 127.0.0.0/8 to: 127.0.0.0/8 port = ${p}`, '  log: connect error', '}'].join('\n'),
    );
    const conf = [
      `logoutput: ${ddir}/danted.log`,
      `internal: 127.0.0.1 port = ${port}`,
      'external: 127.0.0.1',
      'clientmethod: none',
      'socksmethod: none',
      'user.privileged: root',
      'user.unprivileged: nobody',
      'client pass {',
      '  from: 127.0.0.0/8 to: 0.0.0.0/0',
      '}',
      ...deny,
      'socks pass {',
      '  from: 127.0.0.0/8 to: 127.0.0.0/8',
      '  command: connect',
      '  log: error',
      '}',
      'socks block {',
      '  from: 0.0.0.0/0 to: 0.0.0.0/0',
      '  log: connect error',
      '}',
    ];
    const confPath = path.join(ddir, 'danted.conf');
    fs.writeFileSync(confPath, `${conf.join('\n')}\n`);
    d.daemon = new Daemon('danted', '/usr/sbin/danted', ['-f', confPath, '-p', path.join(ddir, 'danted.pid')], {
      logFile: path.join(dir, 'danted.out'),
    });
    try {
      await waitPort(port, { alive: () => d.daemon.alive(), what: 'danted' });
    } catch (err) {
      // The caller never gets the object, so stop the daemon here; its output goes into the error.
      const log = d.daemon.stderr().slice(-2000);
      await d.cleanup();
      throw new Error(`${(err as Error).message}\n${log}`);
    }
    return d;
  }

  async cleanup(): Promise<void> {
    if (this.daemon?.alive()) await this.daemon.stop(10000);
    removeTempDir(this.dir);
  }
}
