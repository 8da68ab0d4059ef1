// Schema 3 (the cheaper index set): a version-2 file written by the previous
// imgate upgrades in place and its events stay searchable (the text index is
// rebuilt), deletable and filterable; searches on the detail=none index keep
// their meaning: every word must be there, and a piece of several words
// ("e-mail", an address) only matches those words in that order.
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src/audit/migrations';
import { SqliteStore } from '../../../src/audit/sqlite';
import { rec, storePerTest, type TempStore } from './helpers';

const texts = (rows: Array<{ text: string | null }>): Array<string | null> => rows.map((r) => r.text).sort();

describe('audit schema 3', () => {
  let t: TempStore;
  storePerTest((s) => (t = s));

  test('a version-2 file is migrated: old rows searchable (phrases too), filterable by user, deletable; the index is consistent', async () => {
    const path = `${t.dir}/v2.db`;
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0] as string);
    old.exec(MIGRATIONS[1] as string);
    old.pragma('user_version = 2');
    const ins = old.prepare("INSERT INTO events (id, time, run, conn, door, user, kind, text) VALUES (?, ?, 'r0', '1', 'icap', ?, 'message', ?)");
    const fts = old.prepare('INSERT INTO events_fts (rowid, text) VALUES (?, ?)');
    const put = (id: string, time: number, user: string | null, text: string): void => {
      fts.run(ins.run(id, time, user, text).lastInsertRowid, text);
    };
    put('o1', 1000, 'alice', 'please send the e-mail to alice@example.com');
    put('o2', 1001, null, 'mail e alice');
    put('o3', 5000, 'bob', 'Crème brûlée for lunch');
    old.prepare("INSERT INTO sessions (run, conn, door, first_seen, last_seen, events) VALUES ('r0', '1', 'icap', 1000, 5000, 3)").run();
    old.close();

    const s = await SqliteStore.open(path, { writer: 'inline' });
    try {
      expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const idx = s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name").pluck().all();
      expect(idx).toEqual(['events_sha', 'events_time', 'events_user_time']);
      expect(s.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").pluck().get()).toMatch(/detail=none/);
      // Old rows, found through the rebuilt index.
      expect(texts(await s.search({ text: 'alice' }))).toEqual(['mail e alice', 'please send the e-mail to alice@example.com']);
      expect(texts(await s.search({ text: 'e-mail' }))).toEqual(['please send the e-mail to alice@example.com']);
      expect(texts(await s.search({ text: 'alice@example.com' }))).toEqual(['please send the e-mail to alice@example.com']);
      expect(texts(await s.search({ text: 'example.alice' }))).toEqual([]);
      expect(texts(await s.search({ text: 'creme BRULEE' }))).toEqual(['Crème brûlée for lunch']);
      expect(texts(await s.search({ user: 'alice' }))).toEqual(['please send the e-mail to alice@example.com']);
      // New rows beside them.
      await s.writeBatch([rec({ text: 'new e-mail policy', user: 'carol' }), rec({ text: 'no email here', user: undefined })]);
      expect(texts(await s.search({ text: 'e-mail' }))).toEqual(['new e-mail policy', 'please send the e-mail to alice@example.com']);
      expect(texts(await s.search({ text: 'e-mail', user: 'carol' }))).toEqual(['new e-mail policy']);
      // Retention takes old rows, their index entries and the session that only they referred to.
      expect((await s.deleteBefore(2000)).events).toBe(2);
      expect(texts(await s.search({ text: 'alice' }))).toEqual([]);
      expect(s.db.prepare("SELECT count(*) FROM sessions WHERE run = 'r0'").pluck().get()).toBe(1);
      expect((await s.deleteBefore(6000)).events).toBe(1);
      expect(s.db.prepare("SELECT count(*) FROM sessions WHERE run = 'r0'").pluck().get()).toBe(0);
    } finally {
      await s.close();
    }
    const db = new Database(path);
    expect(() => db.prepare("INSERT INTO events_fts (events_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    db.close();
  });

  test('phrases on the word index: order and whole words count; the limit applies after the phrase check', async () => {
    const s = t.store;
    await s.writeBatch([
      ...Array.from({ length: 30 }, (_, i) => rec({ time: 1000 + i, text: `report due ${i} tomorrow` })),
      rec({ time: 2000, text: 'the due-report is late' }),
      rec({ time: 2001, text: 'ticket NR-42 reopened' }),
      rec({ time: 2002, text: 'nr 42 is not the ticket' }),
      rec({ time: 2003, text: 'nr-420 is another one' }),
    ]);
    expect(texts(await s.search({ text: 'due-report', limit: 5 }))).toEqual(['the due-report is late']);
    expect(texts(await s.search({ text: 'nr-42' }))).toEqual(['nr 42 is not the ticket', 'ticket NR-42 reopened']);
    expect(await s.search({ text: 'report due' })).toHaveLength(31);
    expect(await s.search({ text: 'report-due' })).toHaveLength(30);
  });

  test('words fold as FTS5 folds them (Devanagari marks, Greek accents and final sigma, stacked diacritics)', async () => {
    const s = t.store;
    await s.writeBatch([rec({ text: 'हिंदी भाषा' }), rec({ text: 'ΣΊΣΥΦΟΣ was here' }), rec({ text: 'ǖber alles' }), rec({ text: 'unrelated' })]);
    expect(texts(await s.search({ text: 'हिंदी' }))).toEqual(['हिंदी भाषा']);
    expect(texts(await s.search({ text: 'σίσυφος' }))).toEqual(['ΣΊΣΥΦΟΣ was here']);
    expect(texts(await s.search({ text: 'Ǖber' }))).toEqual(['ǖber alles']);
  });

  test('a word FTS5 cuts in two where JS does not (its Unicode 6.1 tables) is still found, without an error', async () => {
    const s = t.store;
    // U+19B0 NEW TAI LUE VOWEL SIGN VOWEL SHORTENER: a letter to JS today, a separator to unicode61.
    await s.writeBatch([rec({ text: 'code xq\u19B0zq here' }), rec({ text: 'code xq zq here' })]);
    expect(texts(await s.search({ text: 'xq\u19B0zq' }))).toEqual(['code xq\u19B0zq here']);
    expect(texts(await s.search({ text: 'code xq\u19B0zq' }))).toEqual(['code xq\u19B0zq here']);
    expect(texts(await s.search({ text: 'xq zq' }))).toEqual(['code xq zq here', 'code xq\u19B0zq here'].sort());
  });
});
