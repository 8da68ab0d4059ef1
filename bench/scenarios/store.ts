// Events stored per second: the SQLite store (writer thread, as the gateway
// runs it) and the PostgreSQL store (pg Pool over loopback TCP to a real
// PostgreSQL 15, fsync on), fed the same batches as the audit queue sends
// (BATCH records of realistic IM messages), in alternating rounds of the
// same run; plus two PostgreSQL writers at once (a fleet of two gateways).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { PgStore } from '../../src/audit/pg';
import { SqliteStore } from '../../src/audit/sqlite';
import type { AuditRecord, Store } from '../../src/audit/types';
import type { ImEvent } from '../../src/events/types';
import { progress } from '../lib/log';
import { median } from '../lib/stats';
import { startBenchPostgres } from './store-postgres';

export interface StoreBenchOptions {
  /** Seconds per measurement. */
  secs: number;
  rounds: number;
  /** Records per writeBatch (the queue's batch). */
  batch: number;
  /** An older build (a directory with dist/): its SQLite store is measured too, alternating with this one (A/B). */
  beforeRoot?: string;
}

export interface StoreRate {
  /** Events committed per second, median over rounds. */
  eventsPerSec: number;
  rounds: number[];
}

export interface StoreBenchResult {
  secs: number;
  rounds: number;
  batch: number;
  /** Mean text length of the generated messages (characters). */
  textChars: number;
  postgres: string;
  sqlite: StoreRate;
  pg: StoreRate;
  /** Two PgStore writers (two pools, two run ids) into one database at once: sum of both. */
  pgFleet2: StoreRate;
  /** The older build's SQLite store, same batches, same rounds (when beforeRoot was given). */
  sqliteBefore?: StoreRate;
}

/** The SQLite store of another build, loaded from its dist/ (the bench's A/B). */
function olderSqliteStore(root: string): typeof SqliteStore {
  const m = require(path.join(root, 'dist', 'src', 'audit', 'sqlite.js')) as { SqliteStore: typeof SqliteStore };
  return m.SqliteStore;
}

const WORDS = 'the quarterly report meeting deploy server ticket invoice customer lunch tomorrow review please thanks urgent project budget release notes'.split(' ');

/** A batch of message events like an office's chat: two users, a channel, 40-200 character texts. */
function makeBatch(n: number, seed: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let x = seed;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < n; i++) {
    const words: string[] = [];
    const len = 8 + Math.floor(rnd() * 25);
    for (let w = 0; w < len; w++) words.push(WORDS[Math.floor(rnd() * WORDS.length)] as string);
    const ev: ImEvent = {
      id: `b${seed}-${i}`, time: Date.now(), conn: String(1 + (i % 16)), door: 'socks5', clientIp: '127.0.0.1', user: i % 2 ? 'alice' : 'bob',
      groups: ['staff'], protocol: i % 3 ? 'xmpp' : 'irc', app: i % 3 ? 'jabber' : undefined, direction: i % 2 ? 'out' : 'in',
      account: i % 2 ? 'alice@imgate.test' : 'bob@imgate.test', peer: i % 3 ? 'carol@imgate.test' : '#ops', kind: 'message',
      text: words.join(' '), destination: { host: '127.0.0.1', port: 5222 },
    };
    out.push({ ev, verdict: { action: 'allow', rule: 'default' } });
  }
  return out;
}

async function measure(stores: Store[], batches: AuditRecord[][], secs: number): Promise<number> {
  const end = Date.now() + secs * 1000;
  const t0 = process.hrtime.bigint();
  const counts = await Promise.all(
    stores.map(async (s, k) => {
      let n = 0;
      for (let i = k; Date.now() < end; i++) {
        const b = batches[i % batches.length] as AuditRecord[];
        await s.writeBatch(b);
        n += b.length;
      }
      return n;
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return counts.reduce((a, b) => a + b, 0) / elapsed;
}

export async function runStore(o: StoreBenchOptions, tmp: string): Promise<StoreBenchResult> {
  const pgPeer = await startBenchPostgres(tmp);
  const settings = { url: pgPeer.url, port: 5432, database: 'imgate_bench', user: 'imgate', pool_max: 4, statement_timeout_ms: 60_000, connect_timeout_ms: 10_000 };
  const batches = Array.from({ length: 8 }, (_, i) => makeBatch(o.batch, i + 1));
  const textChars = batches.flat().reduce((a, r) => a + (r.ev.text?.length ?? 0), 0) / (batches.length * o.batch);
  const dbFile = path.join(tmp, 'store-bench.db');
  const sqlite = await SqliteStore.open(dbFile, { writer: 'thread' });
  const beforeFile = path.join(tmp, 'store-bench-before.db');
  const before = o.beforeRoot ? await olderSqliteStore(o.beforeRoot).open(beforeFile, { writer: 'thread' }) : null;
  const pg = await PgStore.open(settings);
  const pg2 = await PgStore.open(settings);
  const r = { sqlite: [] as number[], pg: [] as number[], fleet: [] as number[], before: [] as number[] };
  try {
    // Warm-up: schema pages, prepared statements, the writer thread.
    await measure([sqlite], batches, 0.3);
    if (before) await measure([before], batches, 0.3);
    await measure([pg], batches, 0.3);
    for (let round = 0; round < o.rounds; round++) {
      // A/B: the older build's store before or after this one, alternating per round.
      if (before && round % 2 === 0) r.before.push(await measure([before], batches, o.secs));
      r.sqlite.push(await measure([sqlite], batches, o.secs));
      if (before && round % 2 === 1) r.before.push(await measure([before], batches, o.secs));
      r.pg.push(await measure([pg], batches, o.secs));
      r.fleet.push(await measure([pg, pg2], batches, o.secs));
      progress(`store round ${round + 1}: sqlite ${r.sqlite.at(-1)?.toFixed(0)} ev/s${before ? ` (older build ${r.before.at(-1)?.toFixed(0)} ev/s)` : ''}, postgres ${r.pg.at(-1)?.toFixed(0)} ev/s, 2 pg writers ${r.fleet.at(-1)?.toFixed(0)} ev/s`);
    }
  } finally {
    await sqlite.close();
    await before?.close();
    rmSync(beforeFile, { force: true });
    await pg.close();
    await pg2.close();
    rmSync(dbFile, { force: true });
  }
  const rate = (xs: number[]): StoreRate => ({ eventsPerSec: median(xs), rounds: xs });
  return {
    secs: o.secs, rounds: o.rounds, batch: o.batch, textChars, postgres: pgPeer.version, sqlite: rate(r.sqlite), pg: rate(r.pg), pgFleet2: rate(r.fleet),
    ...(before ? { sqliteBefore: rate(r.before) } : {}),
  };
}
