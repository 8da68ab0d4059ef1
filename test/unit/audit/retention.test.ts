// Retention by age and by database size: events, their FTS rows, sessions
// and archived files they alone referred to all go.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { FileArchive } from '../../../src/audit/archive';
import { enforceRetention } from '../../../src/audit/retention';
import type { SqliteStore } from '../../../src/audit/sqlite';
import { rec, silent, storePerTest, tempStore, type TempStore } from './helpers';

const DAY = 86_400_000;

describe('retention', () => {
  let t: TempStore;
  let store: SqliteStore;
  storePerTest((s) => {
    t = s;
    store = s.store;
  });
  // The FTS index holds exactly the stored texts (FTS5's own check against its content table), none of deleted rows.
  const expectIndexInStep = () => {
    // The store's own connection is read-only, and the check counts as a write.
    const db = new Database(t.path);
    try {
      expect(() => db.prepare("INSERT INTO events_fts (events_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    } finally {
      db.close();
    }
  };
  const ftsRows = () => (store.db.prepare("SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH 'ancient'").get() as { n: number }).n;

  test('by age: old events, their FTS rows, sessions and archived files go; recent ones stay', async () => {
    const now = Date.now();
    const archive = await FileArchive.open(t.dir, store, { enabled: true, maxFileBytes: 1e6, maxTotalBytes: 1e9 }, silent);
    const oldFile = archive.putBuffer(Buffer.from('old content'), { name: 'old.txt', time: now - 40 * DAY });
    const newFile = archive.putBuffer(Buffer.from('new content'), { name: 'new.txt', time: now });
    await archive.settle();
    await store.writeBatch([
      rec({ time: now - 40 * DAY, conn: 'old', text: 'ancient history' }),
      rec({ time: now - 40 * DAY, conn: 'old', kind: 'file', text: undefined, file: { name: 'old.txt', size: 11, sha256: oldFile.sha256 } }),
      rec({ time: now - 1000, conn: 'new', text: 'fresh news' }),
      rec({ time: now - 1000, conn: 'new', kind: 'file', text: undefined, file: { name: 'new.txt', size: 11, sha256: newFile.sha256 } }),
    ]);
    expect(ftsRows()).toBe(1);
    const r = await enforceRetention(store, archive, { retentionDays: 30, maxDbBytes: 0 }, now);
    expect(r).toEqual({ byAge: 2, bySize: 0 });
    expect(await store.count()).toBe(2);
    expect(ftsRows()).toBe(0);
    expect(await store.search({ text: 'ancient' })).toHaveLength(0);
    expect(await store.search({ text: 'fresh' })).toHaveLength(1);
    expect((store.db.prepare('SELECT conn FROM sessions').all() as Array<{ conn: string }>).map((s) => s.conn)).toEqual(['new']);
    expect(existsSync(join(t.dir, oldFile.storedPath as string))).toBe(false);
    expect(existsSync(join(t.dir, newFile.storedPath as string))).toBe(true);
    expect((await store.files({})).map((f) => f.name)).toEqual(['new.txt']);
    // FTS index and content agree (no dangling rows).
    expectIndexInStep();
  });

  test('by size: oldest events go until the pages in use fit max_db_bytes', async () => {
    const t0 = Date.now() - 10 * DAY;
    for (let b = 0; b < 20; b++) {
      await store.writeBatch(Array.from({ length: 500 }, (_, i) => rec({ time: t0 + b * 500 + i, conn: `c${b}`, text: `batch ${b} row ${i} ${'padding words '.repeat(20)}` })));
    }
    const before = await store.stats();
    expect(before.events).toBe(10_000);
    const max = Math.floor(before.dbBytes / 3);
    const r = await enforceRetention(store, null, { retentionDays: 0, maxDbBytes: max });
    const after = await store.stats();
    expect(after.dbBytes).toBeLessThanOrEqual(max);
    expect(r.bySize).toBe(10_000 - after.events);
    expect(after.events).toBeGreaterThan(1000);
    // What is left is the newest.
    const oldest = store.db.prepare('SELECT min(time) AS t FROM events').get() as { t: number };
    expect(oldest.t).toBe(t0 + r.bySize);
    expectIndexInStep();
  });

  test('retention 0 and max 0 keep everything', async () => {
    await store.writeBatch([rec({ time: 1 })]);
    expect(await enforceRetention(store, null, { retentionDays: 0, maxDbBytes: 0 })).toEqual({ byAge: 0, bySize: 0 });
    expect(await store.count()).toBe(1);
  });
});

describe('retention in chunks', () => {
  test('more old events than one chunk are all deleted by age', async () => {
    const t = await tempStore();
    const store = t.store;
    try {
      const now = Date.now();
      for (let b = 0; b < 12; b++) await store.writeBatch(Array.from({ length: 1000 }, () => rec({ time: now - 100 * DAY, text: 'old' })));
      await store.writeBatch([rec({ time: now, text: 'new' })]);
      expect(await enforceRetention(store, null, { retentionDays: 1, maxDbBytes: 0 }, now)).toEqual({ byAge: 12_000, bySize: 0 });
      expect(await store.count()).toBe(1);
    } finally {
      await t.done();
    }
  });
});
