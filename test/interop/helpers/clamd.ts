// clamd 1.4.6 with custom signatures only (peers.md §3): an .ndb rule on a
// project marker string, so no EICAR bytes live in the repository. Listens on
// a free TCP port and a unix socket (c-icap's clamd_mod needs the socket for
// FILDES). kill() / restart() keep the same port, socket and database.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Daemon } from './process';
import { freePort, sleep } from './ports';
import { makeTempDir, removeTempDir } from './tmpdir';

/** Content containing this is "infected" for the test clamd. */
export const AV_MARKER = 'IMGATE-AV-TEST-MARKER-5e1f0c';
/** clamd reports `Imgate.Test.Marker.UNOFFICIAL`: match by prefix. */
export const AV_SIGNATURE = 'Imgate.Test.Marker';

/** One command over the unix socket or TCP, NUL-terminated reply. */
export function clamdCommand(target: { port: number } | { path: string }, cmd: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const sock = 'path' in target ? net.connect({ path: target.path }) : net.connect({ host: '127.0.0.1', port: target.port });
    let buf = '';
    const done = (v: string): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(''));
    sock.on('connect', () => sock.write(`z${cmd}\0`));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\0')) done(buf.slice(0, buf.indexOf('\0')));
    });
    sock.on('error', () => done(''));
    sock.on('close', () => done(buf));
  });
}

export class Clamd {
  daemon!: Daemon;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly socketPath: string,
  ) {}

  private get conf(): string {
    return path.join(this.dir, 'clamd.conf');
  }

  static async start(opts: { streamMaxLength?: string } = {}): Promise<Clamd> {
    const dir = makeTempDir('clamd');
    const port = await freePort();
    const c = new Clamd(dir, port, path.join(dir, 'clamd.sock'));
    const db = path.join(dir, 'db');
    fs.mkdirSync(db);
    fs.writeFileSync(path.join(db, 'imgate.ndb'), `${AV_SIGNATURE}:0:*:${Buffer.from(AV_MARKER).toString('hex')}\n`);
    const conf = [
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `LocalSocket ${c.socketPath}`,
      'LocalSocketMode 666',
      'Foreground yes',
      `DatabaseDirectory ${db}`,
      `PidFile ${dir}/clamd.pid`,
      `LogFile ${dir}/clamd.log`,
      'LogTime yes',
      `TemporaryDirectory ${dir}`,
      'MaxThreads 4',
      `StreamMaxLength ${opts.streamMaxLength ?? '40M'}`,
      'SelfCheck 0',
      'Bytecode no',
    ];
    fs.writeFileSync(c.conf, `${conf.join('\n')}\n`);
    try {
      await c.spawn();
    } catch (err) {
      await c.cleanup();
      throw err;
    }
    return c;
  }

  private async spawn(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    this.daemon = new Daemon('clamd', 'clamd', [`--config-file=${this.conf}`], { logFile: path.join(this.dir, 'clamd.out') });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if ((await clamdCommand({ port: this.port }, 'PING', 500)) === 'PONG') return;
      if (!this.daemon.alive()) throw new Error(`clamd exited: ${this.daemon.stderr().slice(-2000)}`);
      await sleep(100);
    }
    throw new Error('clamd not answering PING after 30 s');
  }

  /** Abrupt death (SIGKILL), as in a crash. */
  async kill(): Promise<void> {
    this.daemon.signal('SIGKILL');
    await this.daemon.waitExit(5000);
  }

  async restart(): Promise<void> {
    if (this.daemon.alive()) await this.daemon.stop(10_000);
    await this.spawn();
  }

  async cleanup(): Promise<void> {
    if (this.daemon?.alive()) await this.daemon.stop(10_000);
    removeTempDir(this.dir);
  }
}
