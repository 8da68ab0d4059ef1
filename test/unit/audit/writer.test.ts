// The SQLite writer's batch path: one session upsert per session and batch
// must leave exactly the rows one upsert per event did; the FTS rows the
// writer inserts itself (no trigger since schema 2) stay in step with the
// events; a version-1 file is migrated and its old rows stay searchable.
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src/audit/migrations';
import { SqliteStore } from '../../../src/audit/sqlite';
import type { AuditRecord } from '../../../src/audit/types';
import { rec, storePerTest, type TempStore } from './helpers';

const sessionsOf = (s: SqliteStore): unknown[] =>
  s.db.prepare('SELECT conn, door, client_ip, user, protocol, app, destination, first_seen, last_seen, events FROM sessions ORDER BY conn').all();

describe('SQLite writer batches', () => {
  let a: TempStore;
  let b: TempStore;
  storePerTest((s) => (a = s));
  storePerTest((s) => (b = s));

  test('sessions written once per batch equal sessions written once per event', async () => {
    const t0 = 1_700_000_000_000;
    // Interleaved connections, times out of order, values that appear late (first non-null wins).
    const records: AuditRecord[] = [
      rec({ conn: 'c1', time: t0 + 50, user: undefined, protocol: undefined, destination: undefined }),
      rec({ conn: 'c2', time: t0 + 10, clientIp: '127.0.0.2', user: 'bob', app: undefined }),
      rec({ conn: 'c1', time: t0 + 20, user: 'alice', protocol: 'xmpp', clientIp: '127.0.0.9' }),
      rec({ conn: 'c2', time: t0 + 90, app: 'jabber', user: 'mallory' }),
      rec({ conn: 'c1', time: t0 + 70, user: 'eve', destination: { host: '127.0.0.1', port: 5222 } }),
      rec({ conn: 'c3', time: t0 + 5, kind: 'login', text: undefined }),
    ];
    // A session already stored by an earlier batch: the batch adds to it.
    await a.store.writeBatch([rec({ conn: 'c2', time: t0, user: undefined })]);
    await b.store.writeBatch([rec({ conn: 'c2', time: t0, user: undefined })]);
    await a.store.writeBatch(records);
    for (const r of records) await b.store.writeBatch([r]);
    const got = sessionsOf(a.store);
    expect(got).toEqual(sessionsOf(b.store));
    expect(got).toEqual([
      expect.objectContaining({ conn: 'c1', user: 'alice', protocol: 'xmpp', client_ip: '127.0.0.1', first_seen: t0 + 50, last_seen: t0 + 70, events: 3, destination: '127.0.0.1:6667' }),
      expect.objectContaining({ conn: 'c2', user: 'bob', app: 'jabber', first_seen: t0, last_seen: t0 + 90, events: 3 }),
      expect.objectContaining({ conn: 'c3', first_seen: t0 + 5, last_seen: t0 + 5, events: 1 }),
    ]);
  });

  test('each text is indexed once, events without text are not, and a retention delete takes the index rows with it', async () => {
    const s = a.store;
    await s.writeBatch([rec({ text: 'alpha bravo' }), rec({ kind: 'login', text: undefined }), rec({ text: 'bravo charlie' })]);
    expect(s.db.prepare('SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH ?').get('bravo')).toEqual({ n: 2 });
    expect((await s.search({ text: 'bravo' })).map((r) => r.text).sort()).toEqual(['alpha bravo', 'bravo charlie']);
    await s.deleteBefore(Date.now() + 1000);
    expect(s.db.prepare('SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH ?').get('bravo')).toEqual({ n: 0 });
    // The index is consistent with its content table (FTS5's own check).
    await s.writeBatch([rec({ text: 'after the delete' })]);
    await s.close();
    const db = new Database(a.path);
    expect(() => db.prepare("INSERT INTO events_fts (events_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    db.close();
  });

  test('a version-1 file is migrated: its rows stay searchable and deletable, new rows are indexed without the trigger', async () => {
    const path = `${a.dir}/v1.db`;
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0] as string);
    old.pragma('user_version = 1');
    old.prepare("INSERT INTO events (id, time, run, conn, door, kind, text) VALUES ('old1', 1000, 'r0', '1', 'socks5', 'message', 'written by the old trigger')").run();
    old.close();
    const s = await SqliteStore.open(path, { writer: 'inline' });
    try {
      expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(s.db.prepare("SELECT name FROM sqlite_master WHERE name IN ('events_fts_ai', 'events_account', 'events_fts_ad') ORDER BY name").pluck().all()).toEqual(['events_fts_ad']);
      await s.writeBatch([rec({ text: 'written by the new writer' })]);
      expect((await s.search({ text: 'written by' })).map((r) => r.text).sort()).toEqual(['written by the new writer', 'written by the old trigger']);
      await s.deleteBefore(2000);
      expect((await s.search({ text: 'written' })).map((r) => r.text)).toEqual(['written by the new writer']);
    } finally {
      await s.close();
    }
  });
});
