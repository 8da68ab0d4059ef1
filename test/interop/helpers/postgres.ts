// A throwaway PostgreSQL 15 cluster from Debian's binaries for the audit
// store tests: initdb into a temp dir, one postgres process on a free
// loopback port (socket dir inside the temp dir), fsync off (tests only),
// run as the `postgres` system user because the binaries refuse root.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, run } from './process';
import { freePort, sleep } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

/** Runs a PostgreSQL binary as the cluster's owner (setpriv when we are root). */
function asOwner(bin: string, args: string[]): { cmd: string; args: string[] } {
  const exe = path.join(PG_BIN, bin);
  return isRoot() ? { cmd: 'setpriv', args: [`--reuid=${PG_USER}`, `--regid=${PG_USER}`, '--clear-groups', exe, ...args] } : { cmd: exe, args };
}

export class Postgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly daemon: Daemon,
    readonly superuser: string,
  ) {}

  /** Connection string of a database on this cluster (the superuser, trust auth on loopback). */
  url(database = 'postgres'): string {
    return `postgresql://${encodeURIComponent(this.superuser)}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  static async start(): Promise<Postgres> {
    const dir = makeTempDir('pg');
    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    chownTree(dir, PG_USER);
    // The superuser is named after the OS user that runs initdb.
    const superuser = isRoot() ? PG_USER : (process.env.USER ?? PG_USER);
    const init = asOwner('initdb', ['-D', data, '-A', 'trust', '-E', 'UTF8', '--locale=C', '-U', superuser]);
    const r = await run(init.cmd, init.args, { timeoutMs: 60000 });
    if (r.code !== 0) {
      removeTempDir(dir);
      throw new Error(`initdb failed (${r.code}): ${r.stderr}\n${r.stdout.toString()}`);
    }
    const port = await freePort();
    const srv = asOwner('postgres', [
      '-D', data, '-k', dir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=60', '-c', 'shared_buffers=32MB',
    ]);
    const daemon = new Daemon('postgres', srv.cmd, srv.args, { logFile: path.join(dir, 'postgres.log') });
    const pg = new Postgres(dir, port, daemon, superuser);
    try {
      await pg.waitReady();
    } catch (err) {
      await pg.stop();
      throw new Error(`${(err as Error).message}\n${daemon.stderr().slice(-4000)}`);
    }
    return pg;
  }

  private async waitReady(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.daemon.alive()) throw new Error('postgres exited before ready');
      const r = await run(path.join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', this.superuser, '-t', '2'], { timeoutMs: 5000 });
      if (r.code === 0) return;
      await sleep(150);
    }
    throw new Error(`postgres on ${this.port} not ready after ${timeoutMs} ms`);
  }

  /** A fresh empty database; returns its connection string. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    const r = await run(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', this.superuser, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`], { timeoutMs: 30000 });
    if (r.code !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr}`);
    return this.url(name);
  }

  /** Fast shutdown (SIGINT), then the temp dir goes. */
  async stop(): Promise<void> {
    if (this.daemon.alive()) {
      this.daemon.signal('SIGINT');
      if ((await this.daemon.waitExit(15000)) === null) await this.daemon.stop(2000);
    }
    removeTempDir(this.dir);
  }
}
