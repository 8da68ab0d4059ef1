// c-icap 0.5.10 (peers.md §2) on a free loopback port. CIcap.start() runs the
// echo service: a reference ICAP server (the same c-icap-client commands
// against it and against imgate). Other services (virus_scan in cicap-av.ts)
// start through CIcap.launch with their own service lines.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon } from './process';
import { freePort, waitPort } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';

export function modulesDir(): string {
  for (const d of fs.readdirSync('/usr/lib')) {
    const p = path.join('/usr/lib', d, 'c_icap');
    if (fs.existsSync(path.join(p, 'srv_echo.so'))) return p;
  }
  throw new Error('c-icap srv_echo.so not found under /usr/lib/*/c_icap (apt-get install c-icap)');
}

export class CIcap {
  daemon!: Daemon;

  protected constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** icap://127.0.0.1:PORT/echo */
  get echoUri(): string {
    return `icap://127.0.0.1:${this.port}/echo`;
  }

  get serverLog(): string {
    const p = path.join(this.dir, 'cicap', 'server.log');
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '';
  }

  static start(): Promise<CIcap> {
    return CIcap.launch('cicap', ['Service echo srv_echo.so'], 1, (dir, port) => new CIcap(dir, port));
  }

  /** Writes the config (common lines + `services`), starts c-icap, waits for its port. */
  protected static async launch<T extends CIcap>(name: string, services: string[], debugLevel: number, make: (dir: string, port: number) => T): Promise<T> {
    const dir = makeTempDir(name);
    const port = await freePort();
    const c = make(dir, port);
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
      `ServerName c-icap-imgate-${name}`,
      `ModulesDir ${mods}`,
      `ServicesDir ${mods}`,
      'TemplateDir /usr/share/c_icap/templates/',
      'LoadMagicFile /etc/c-icap/c-icap.magic',
      `DebugLevel ${debugLevel}`,
      `ServerLog ${cdir}/server.log`,
      `AccessLog ${cdir}/access.log`,
      ...services,
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
      const log = c.daemon.stderr().slice(-2000) + c.serverLog.slice(-2000);
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
