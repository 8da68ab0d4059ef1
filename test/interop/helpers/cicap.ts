// c-icap 0.5.10 with its echo service (peers.md §2): a reference ICAP server
// (same c-icap-client commands against it and against imgate) that the
// benchmark engineer can reuse as a baseline.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon } from './process';
import { freePort, waitPort } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';

function modulesDir(): string {
  for (const d of fs.readdirSync('/usr/lib')) {
    const p = path.join('/usr/lib', d, 'c_icap');
    if (fs.existsSync(path.join(p, 'srv_echo.so'))) return p;
  }
  throw new Error('c-icap srv_echo.so not found under /usr/lib/*/c_icap (apt-get install c-icap)');
}

export class CIcap {
  daemon!: Daemon;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** icap://127.0.0.1:PORT/echo */
  get echoUri(): string {
    return `icap://127.0.0.1:${this.port}/echo`;
  }

  static async start(): Promise<CIcap> {
    const dir = makeTempDir('cicap');
    const port = await freePort();
    const c = new CIcap(dir, port);
    const cdir = path.join(dir, 'cicap');
    fs.mkdirSync(cdir);
    const mods = modulesDir();
    const conf = [
      `PidFile ${cdir}/c-icap.pid`,
      `CommandsSocket ${cdir}/c-icap.ctl`,
      `Port 127.0.0.1:${port}`,
      ...(isRoot() ? ['User nobody', 'Group nogroup'] : []),
      'StartServers 1',
      'MaxServers 2',
      'MinSpareThreads 2',
      'MaxSpareThreads 8',
      'ThreadsPerChild 8',
      `TmpDir ${cdir}`,
      'ServerName c-icap-imgate-test',
      `ModulesDir ${mods}`,
      `ServicesDir ${mods}`,
      'TemplateDir /usr/share/c_icap/templates/',
      'LoadMagicFile /etc/c-icap/c-icap.magic',
      'DebugLevel 1',
      `ServerLog ${cdir}/server.log`,
      `AccessLog ${cdir}/access.log`,
      'Service echo srv_echo.so',
    ];
    fs.writeFileSync(path.join(cdir, 'c-icap.conf'), `${conf.join('\n')}\n`);
    chownTree(cdir, 'nobody', 'nogroup');
    // -N: no daemonizing, so the PID is the main process (its one child follows it).
    c.daemon = new Daemon('c-icap', 'c-icap', ['-N', '-D', '-f', path.join(cdir, 'c-icap.conf')], {
      logFile: path.join(dir, 'c-icap.out'),
    });
    try {
      await waitPort(port, { alive: () => c.daemon.alive(), what: 'c-icap' });
    } catch (err) {
      // The caller never gets the object, so stop the daemon here; its output goes into the error.
      const log = c.daemon.stderr().slice(-2000);
      await c.cleanup();
      throw new Error(`${(err as Error).message}\n${log}`);
    }
    return c;
  }

  async cleanup(): Promise<void> {
    if (this.daemon?.alive()) await this.daemon.stop(10000);
    removeTempDir(this.dir);
  }
}
