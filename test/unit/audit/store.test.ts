// SqliteStore: schema and migrations, batched writes, sessions, FTS search
// (including hostile query strings), reports, read-only access beside a writer.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/audit/sqlite';
import { SCHEMA_VERSION } from '../../../src/audit/migrations';
import { rec, storePerTest, type TempStore } from './helpers';

describe('SqliteStore', () => {
  let t: TempStore;
  let store: SqliteStore;
  let path: string;
  storePerTest((s) => {
    t = s;
    store = s.store;
    path = s.path;
  });

  test('a new file gets the current schema, WAL mode, and reopening does not migrate again', async () => {
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    await store.writeBatch([rec({ text: 'kept across reopen' })]);
    store = await t.reopen();
    expect(await store.count()).toBe(1);
  });

  test('a database from a newer imgate is refused', async () => {
    await store.close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(SqliteStore.open(path, { writer: 'inline' })).rejects.toMatchObject({ message: expect.stringMatching(/newer than this imgate/) });
    await expect(SqliteStore.open(path, { readonly: true })).rejects.toMatchObject({ message: expect.stringMatching(/schema version/) });
    t.store = store = await SqliteStore.open(join(t.dir, 'other.db'), { writer: 'inline' });
  });

  test('every field of an event survives the round trip; one session row per connection', async () => {
    await store.writeBatch([
      rec({ conn: 'c7', kind: 'login', text: undefined, account: 'alice', peer: undefined }, { action: 'allow', rule: 'default' }, { mechanism: 'PLAIN' }),
      rec({ conn: 'c7', text: 'card 4111 1111 1111 1111', groups: ['staff'], app: 'libera' }, { action: 'redact', rule: 'mask-cards' }),
      rec({ conn: 'c7', kind: 'file', text: undefined, file: { name: 'plan.pdf', size: 1234, sha256: 'ab'.repeat(32) } }, { action: 'block', rule: 'no-files' }),
    ]);
    const rows = await store.search({});
    expect(rows).toHaveLength(3);
    const msg = rows.find((r) => r.kind === 'message');
    expect(msg).toMatchObject({ conn: 'c7', door: 'socks5', user: 'alice', groups: ['staff'], protocol: 'irc', app: 'libera', direction: 'out', account: 'alice', peer: '#imgate', text: 'card 4111 1111 1111 1111', action: 'redact', rule: 'mask-cards', destination: '127.0.0.1:6667' });
    expect(rows.find((r) => r.kind === 'login')?.detail).toEqual({ mechanism: 'PLAIN' });
    expect(rows.find((r) => r.kind === 'file')).toMatchObject({ file_name: 'plan.pdf', file_size: 1234, file_sha256: 'ab'.repeat(32) });
    const sessions = store.db.prepare('SELECT * FROM sessions').all() as Array<{ conn: string; events: number; user: string }>;
    expect(sessions).toEqual([expect.objectContaining({ conn: 'c7', events: 3, user: 'alice' })]);
    expect(await store.stats()).toMatchObject({ events: 3, sessions: 1, files: 1 });
  });

  test('search: words in any order, filters by user, account (sender or peer), protocol, time', async () => {
    const t0 = Date.now() - 10_000;
    await store.writeBatch([
      rec({ time: t0, text: 'the quarterly numbers are out', user: 'alice' }),
      rec({ time: t0 + 1000, text: 'numbers look quarterly good', user: 'bob', account: 'bob', peer: 'alice@example.org', protocol: 'xmpp' }),
      rec({ time: t0 + 2000, text: 'lunch?', user: 'alice' }),
    ]);
    expect((await store.search({ text: 'quarterly numbers' })).map((r) => r.user).sort()).toEqual(['alice', 'bob']);
    expect(await store.search({ text: 'quarterly', user: 'bob' })).toHaveLength(1);
    expect(await store.search({ text: 'quarterly', account: 'alice@example.org' })).toHaveLength(1);
    expect(await store.search({ text: 'quarterly', protocol: 'xmpp' })).toHaveLength(1);
    expect(await store.search({ text: 'quarterly', since: t0 + 500 })).toHaveLength(1);
    expect(await store.search({ text: 'quarterly', until: t0 + 500 })).toHaveLength(1);
    expect(await store.search({ text: 'QUARTERLY' })).toHaveLength(2);
    expect(await store.search({ text: 'nothing-like-this' })).toHaveLength(0);
    // newest first
    expect((await store.search({ user: 'alice' })).map((r) => r.text)).toEqual(['lunch?', 'the quarterly numbers are out']);
  });

  test('hostile search strings are literal text: no syntax error, no widened match', async () => {
    await store.writeBatch([
      rec({ text: 'say "hello" to text:secret (now) NEAR the end*' }),
      rec({ text: 'unrelated message about hello' }),
      rec({ text: 'OR AND NOT' }),
    ]);
    const hostile = ['"', '""', '"hello', 'hello"', 'text:secret', 'text:', '*', 'end*', '(now', 'NEAR(', 'NEAR/2', 'hello OR unrelated', 'NOT hello', '^hello', 'hello -unrelated', "'; DROP TABLE events; --", '{text}: x', '\u0000', 'AND', 'OR'];
    for (const h of hostile) await expect(store.search({ text: h })).resolves.toBeDefined();
    // "hello OR unrelated" means all three words, literally: only a text holding "or" too.
    expect(await store.search({ text: 'hello OR unrelated' })).toHaveLength(0);
    expect((await store.search({ text: 'text:secret' })).map((r) => r.text)).toEqual(['say "hello" to text:secret (now) NEAR the end*']);
    expect(await store.search({ text: 'NEAR' })).toHaveLength(1);
    expect(await store.search({ text: '"hello"' })).toHaveLength(2);
    expect((await store.search({ text: 'OR' })).map((r) => r.text)).toEqual(['OR AND NOT']);
    expect(await store.search({ text: "'; DROP TABLE events; --" })).toHaveLength(0);
    expect(await store.count()).toBe(3);
    // Only punctuation: nothing to match, not "everything".
    expect(await store.search({ text: '*' })).toHaveLength(0);
  });

  test('a huge message is stored whole and found', async () => {
    const big = `${'lorem ipsum '.repeat(100_000)}needle-at-the-end`;
    await store.writeBatch([rec({ text: big })]);
    const [row] = await store.search({ text: 'needle-at-the-end' });
    expect(row?.text).toHaveLength(big.length);
  });

  test('binary file names and control characters are stored as given', async () => {
    const name = 'a\u0000b\u001b[31m\u202eexe.pdf';
    await store.writeBatch([rec({ kind: 'file', text: undefined, file: { name, size: 3 } })]);
    expect((await store.files({}))[0]?.name).toBe(name);
    expect(await store.files({ name: '*.pdf' })).toHaveLength(1);
    expect(await store.files({ name: '*.exe' })).toHaveLength(0);
  });

  test('report: per user and per protocol/app with messages, files, blocks and top peers', async () => {
    await store.writeBatch([
      rec({ user: 'alice', peer: '#a' }),
      rec({ user: 'alice', peer: '#a' }),
      rec({ user: 'alice', peer: '#b' }, { action: 'block', rule: 'r1' }),
      rec({ user: 'alice', kind: 'file', text: undefined, peer: 'bob', file: { name: 'x' } }),
      rec({ user: 'bob', protocol: 'xmpp', app: 'jabber', peer: 'alice@x' }),
      rec({ user: undefined, clientIp: '10.0.0.9', protocol: 'http', app: 'slack', peer: undefined }),
    ]);
    const r = await store.report({ topPeers: 2 });
    expect(r.total).toEqual({ events: 6, messages: 5, files: 1, blocks: 1 });
    const alice = r.by_user.find((l) => l.key === 'alice');
    expect(alice).toMatchObject({ events: 4, messages: 3, files: 1, blocks: 1 });
    expect(alice?.top_peers).toEqual([{ peer: '#a', count: 2 }, { peer: '#b', count: 1 }]);
    expect(r.by_user.find((l) => l.key === '10.0.0.9')).toMatchObject({ events: 1, top_peers: [] });
    expect(r.by_protocol.map((l) => [l.key, l.events])).toEqual(expect.arrayContaining([['irc', 4], ['xmpp/jabber', 1], ['http/slack', 1]]));
  });

  test('a read-only handle sees committed batches while the writer stays open (WAL)', async () => {
    await store.writeBatch([rec({ text: 'first' })]);
    const ro = await SqliteStore.open(path, { readonly: true });
    try {
      expect(await ro.count()).toBe(1);
      await store.writeBatch([rec({ text: 'second' })]);
      expect(await ro.search({ text: 'second' })).toHaveLength(1);
      await expect(ro.writeBatch([rec()])).rejects.toThrow(/read-only/);
    } finally {
      await ro.close();
    }
  });

  test('a batch of 1000 events is one transaction and takes well under a flush interval', async () => {
    const batch = Array.from({ length: 1000 }, (_, i) => rec({ conn: `c${i % 50}`, text: `message number ${i} with some ordinary words in it` }));
    await store.writeBatch(batch.slice(0, 100)); // warm up statements and pages
    const t0 = process.hrtime.bigint();
    await store.writeBatch(batch);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // Printed so the measurement is visible in the test output.
    process.stdout.write(`audit: batch of 1000 events written in ${ms.toFixed(1)} ms\n`);
    expect(await store.count()).toBe(1100);
    expect(ms).toBeLessThan(200);
  });

  test('a failing batch leaves nothing half-written', async () => {
    const bad = rec();
    (bad.ev as { kind: unknown }).kind = null; // NOT NULL violation on the 2nd row
    // (Matched by message: better-sqlite3's error class may come from another jest realm.)
    await expect(store.writeBatch([rec({ text: 'ok row' }), bad])).rejects.toMatchObject({ message: expect.stringMatching(/NOT NULL/) });
    expect(await store.count()).toBe(0);
    expect(await store.search({ text: 'ok row' })).toHaveLength(0);
  });
});
