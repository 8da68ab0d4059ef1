// Shared bits for the record store tests: temp dirs, a temporary store,
// the compiled writer thread, and events shaped like the ones the
// dissectors produce.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore, type SqliteOptions } from '../../../src/audit/sqlite';
import { defaultSpawn, type SpawnWriter } from '../../../src/audit/sqlite-writers';
import type { ImEvent, Verdict } from '../../../src/events/types';
import type { AuditRecord } from '../../../src/audit/types';

export const silent = pino({ level: 'silent' });

export function tempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'imgate-audit-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

let n = 0;
export function ev(over: Partial<ImEvent> = {}): ImEvent {
  n++;
  return {
    id: `t-${n}`,
    time: Date.now(),
    conn: 'c1',
    door: 'socks5',
    clientIp: '127.0.0.1',
    user: 'alice',
    groups: [],
    protocol: 'irc',
    direction: 'out',
    account: 'alice',
    peer: '#imgate',
    kind: 'message',
    text: 'hello',
    host: '127.0.0.1',
    destination: { host: '127.0.0.1', port: 6667 },
    ...over,
  };
}

export function rec(over: Partial<ImEvent> = {}, verdict: Verdict = { action: 'allow', rule: 'default' }, detail?: Record<string, unknown>): AuditRecord {
  const e = ev(over);
  e.verdict = verdict;
  return detail ? { ev: e, verdict, detail } : { ev: e, verdict };
}

/** A fresh store in a temp dir, writes in-thread; `done` closes it and removes the dir. */
export interface TempStore {
  dir: string;
  path: string;
  store: SqliteStore;
  /** Closes the current store and opens the same file again (writable unless readonly). */
  reopen(opts?: SqliteOptions): Promise<SqliteStore>;
  done(): Promise<void>;
}

export async function tempStore(opts: SqliteOptions = { writer: 'inline' }, file = join('var', 'imgate.db')): Promise<TempStore> {
  const t = tempDir();
  const path = join(t.dir, file);
  const ts: TempStore = {
    dir: t.dir,
    path,
    store: await SqliteStore.open(path, opts),
    async reopen(o: SqliteOptions = { writer: 'inline' }) {
      await ts.store.close();
      ts.store = await SqliteStore.open(path, o);
      return ts.store;
    },
    async done() {
      await ts.store.close();
      t.done();
    },
  };
  return ts;
}

/**
 * The per-test store of a describe block: a fresh temporary store before
 * each test, handed to `use` (to keep in the block's own variables), and
 * closed and removed after it, whatever the test did with reopen().
 */
export function storePerTest(use: (t: TempStore) => void, opts?: SqliteOptions, file?: string): void {
  let t: TempStore | undefined;
  beforeEach(async () => {
    t = await tempStore(opts, file);
    use(t);
  });
  afterEach(async () => {
    await t?.done();
    t = undefined;
  });
}

const REPO = join(__dirname, '../../..');

/**
 * Starts the real writer thread from the compiled dist/ (build first:
 * `npx tsc -p tsconfig.json`), as the gateway runs it. (A worker that loads
 * the TypeScript source through swc's native module crashes the process when
 * several such threads come and go, so the thread is tested compiled.)
 */
export const spawnCompiled: SpawnWriter = (path) => {
  const file = join(REPO, 'dist/src/audit/sqlite-writer-worker.js');
  if (!existsSync(file)) throw new Error('dist/ missing: run "npx tsc -p tsconfig.json" first');
  return defaultSpawn(file)(path);
};
