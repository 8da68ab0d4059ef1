// A throwaway PostgreSQL 15 (Debian binaries) for the store bench: initdb in
// the bench's temp dir, one server on a free loopback port, run as the
// `postgres` user when we are root (the binaries refuse root). Durable
// settings are kept (fsync on, synchronous_commit on): the bench measures
// what a production store would commit.
import { chownSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, unlessExits, runToEnd, type Daemon } from '../lib/proc';
import { freePort } from '../lib/ports';

const BIN = '/usr/lib/postgresql/15/bin';

export interface BenchPostgres {
  daemon: Daemon;
  url: string;
  version: string;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function asOwner(bin: string, args: string[]): [string, string[]] {
  const exe = path.join(BIN, bin);
  return isRoot() ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--clear-groups', exe, ...args]] : [exe, args];
}

async function waitReady(port: number, user: string, d: Daemon, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await runToEnd(path.join(BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-t', '2'], 5000);
    if (r.code === 0) return;
    if (d.cp.exitCode !== null || Date.now() > deadline) throw new Error(`postgres on ${port} not ready`);
    await new Promise((res) => setTimeout(res, 150));
  }
}

export async function startBenchPostgres(tmp: string): Promise<BenchPostgres> {
  const dir = path.join(tmp, 'pg');
  const data = path.join(dir, 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  const user = isRoot() ? 'postgres' : (process.env.USER ?? 'postgres');
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(tmp, uid, gid);
    chownSync(dir, uid, gid);
    chownSync(data, uid, gid);
  }
  const [icmd, iargs] = asOwner('initdb', ['-D', data, '-A', 'trust', '-E', 'UTF8', '--locale=C', '-U', user]);
  const init = await runToEnd(icmd, iargs, 60000);
  if (init.code !== 0) throw new Error(`initdb: ${init.stderr}`);
  const port = await freePort();
  const [cmd, args] = asOwner('postgres', ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'shared_buffers=128MB']);
  const daemon = startDaemon('postgres', cmd, args, path.join(tmp, 'postgres.log'));
  await unlessExits(daemon, waitPort(port, user, daemon));
  const [pcmd, pargs] = [path.join(BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-Atc', 'CREATE DATABASE imgate_bench']];
  const c = await runToEnd(pcmd, pargs, 30000);
  if (c.code !== 0) throw new Error(`CREATE DATABASE: ${c.stderr}`);
  const v = await runToEnd(path.join(BIN, 'postgres'), ['--version'], 5000);
  return { daemon, url: `postgresql://${user}@127.0.0.1:${port}/imgate_bench`, version: v.stdout.trim() };

  function waitPort(p: number, u: string, d: Daemon): Promise<void> {
    return waitReady(p, u, d);
  }
}
