// c-icap 0.5.10 with the virus_scan service and its clamd_mod engine, pointed
// at the test clamd's unix socket (clamd_mod uses zFILDES over it): a real
// ICAP AV server for imgate's ICAP chaining scanner. Service alias "avscan"
// answers 204 for clean content and 200 + X-Infection-Found when infected.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon } from './process';
import { freePort, waitPort } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';

const MODS = '/usr/lib/x86_64-linux-gnu/c_icap';

export class CIcapAv {
  daemon!: Daemon;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** icap://127.0.0.1:PORT/avscan */
  get avscanUri(): string {
    return `icap://127.0.0.1:${this.port}/avscan`;
  }

  get serverLog(): string {
    const p = path.join(this.dir, 'cicap', 'server.log');
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '';
  }

  static available(): boolean {
    return fs.existsSync(path.join(MODS, 'virus_scan.so')) && fs.existsSync(path.join(MODS, 'clamd_mod.so'));
  }

  static async start(clamdSocket: string): Promise<CIcapAv> {
    const dir = makeTempDir('cicap-av');
    const port = await freePort();
    const c = new CIcapAv(dir, port);
    const cdir = path.join(dir, 'cicap');
    fs.mkdirSync(cdir);
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
      'ServerName c-icap-imgate-av-test',
      `ModulesDir ${MODS}`,
      `ServicesDir ${MODS}`,
      'TemplateDir /usr/share/c_icap/templates/',
      'LoadMagicFile /etc/c-icap/c-icap.magic',
      'DebugLevel 3',
      `ServerLog ${cdir}/server.log`,
      `AccessLog ${cdir}/access.log`,
      'Module common clamd_mod.so',
      `clamd_mod.ClamdSocket ${clamdSocket}`,
      'Service antivirus_module virus_scan.so',
      'ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple',
      'virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE',
      'virus_scan.DefaultEngine clamd',
      'virus_scan.MaxObjectSize 5M',
    ];
    fs.writeFileSync(path.join(cdir, 'c-icap.conf'), `${conf.join('\n')}\n`);
    chownTree(cdir, 'nobody', 'nogroup');
    c.daemon = new Daemon('c-icap', 'c-icap', ['-N', '-D', '-f', path.join(cdir, 'c-icap.conf')], {
      logFile: path.join(dir, 'c-icap.out'),
    });
    try {
      await waitPort(port, { alive: () => c.daemon.alive(), what: 'c-icap' });
    } catch (err) {
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
