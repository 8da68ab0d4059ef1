// One set of store cases run against BOTH backends: SQLite (a temp file) and
// PostgreSQL (a real PostgreSQL 15 cluster started for this file). Each case
// asserts what a user of `imgate search/files/report` would check (which
// messages, which files, which counts), and the two backends must also give
// the same rows for the same data.
import path from 'node:path';
import { PgStore } from '../../src/audit/pg';
import { SqliteStore } from '../../src/audit/sqlite';
import type { AuditRecord, EventRow, ReportLine, Store } from '../../src/audit/types';
import type { ImEvent, Verdict } from '../../src/events/types';
import { Postgres } from './helpers/postgres';
import { makeTempDir, removeTempDir } from './helpers/tmpdir';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const MIN = 60_000;
const SHA_PDF = 'a'.repeat(64);
const SHA_JPG = 'b'.repeat(64);
const SHA_OLD = 'c'.repeat(64);

let nextId = 0;
function rec(e: Partial<ImEvent> & { time: number; kind: ImEvent['kind'] }, verdict: Partial<Verdict> = {}): AuditRecord {
  const ev: ImEvent = { id: `ev${++nextId}`, conn: '1', door: 'socks5', groups: [], ...e };
  return { ev, verdict: { action: 'allow', rule: 'default', ...verdict } };
}

const XMPP = { protocol: 'xmpp', app: 'jabber', door: 'socks5' as const };
const IRC = { protocol: 'irc', door: 'socks5' as const };

/** The shared data set: what a small office produces in a quarter of an hour. */
function dataset(): AuditRecord[] {
  nextId = 0;
  const r: AuditRecord[] = [
    rec({ ...XMPP, time: T0, conn: '1', kind: 'login', user: 'alice', clientIp: '127.0.0.1', account: 'alice@imgate.test' }),
    rec({ ...XMPP, time: T0 + 1000, conn: '1', kind: 'message', user: 'alice', clientIp: '127.0.0.1', groups: ['staff', 'sales'], direction: 'out',
      account: 'alice@imgate.test', peer: 'bob@imgate.test', text: 'Hello Bob, the quarterly report is ready', destination: { host: '127.0.0.1', port: 5222 } }),
    rec({ ...XMPP, time: T0 + 2000, conn: '1', kind: 'message', user: 'alice', clientIp: '127.0.0.1', direction: 'in',
      account: 'alice@imgate.test', peer: 'bob@imgate.test', text: 'Thanks Alice! Café at noon?' }),
    rec({ ...IRC, time: T0 + 3000, conn: '2', kind: 'message', user: 'alice', clientIp: '127.0.0.1', direction: 'out',
      account: 'alice', peer: '#ops', text: 'deploy foo-bar to prod now' }, { action: 'block', rule: 'no-deploy' }),
    rec({ ...IRC, time: T0 + 4000, conn: '3', kind: 'message', clientIp: '127.0.0.9', direction: 'out',
      account: 'carol', peer: '#ops', text: 'weird " OR * NEAR( - chars' }),
    rec({ ...XMPP, time: T0 + 5000, conn: '1', kind: 'file', user: 'alice', clientIp: '127.0.0.1', direction: 'out',
      account: 'alice@imgate.test', peer: 'bob@imgate.test', file: { name: 'Report Q1.PDF', size: 1234, sha256: SHA_PDF } }),
    rec({ protocol: 'http', app: 'slack', door: 'icap', time: T0 + 6000, conn: '4', kind: 'file', user: 'bob', clientIp: '127.0.0.2',
      direction: 'out', account: 'bob', peer: 'general', file: { name: 'photo.jpg', size: 99, sha256: SHA_JPG }, url: 'http://127.0.0.1/up', method: 'POST' },
    { action: 'block', rule: 'no-photos' }),
    rec({ ...IRC, time: T0 + 7000, conn: '2', kind: 'message', user: 'alice', clientIp: '127.0.0.1', direction: 'in',
      account: 'alice', peer: '#ops', text: 'Ünïcödé wörds and e-mail bob@example.org' }),
  ];
  // Traffic for the charts: 12 IRC messages from dave over three minutes.
  for (let i = 0; i < 12; i++) {
    r.push(rec({ ...IRC, time: T0 + 60_000 + i * 15_000, conn: '5', kind: 'message', user: 'dave', clientIp: '127.0.0.3', direction: 'out',
      account: 'dave', peer: i % 3 === 0 ? '#ops' : 'erin', text: `status update number ${i}` }));
  }
  r[r.length - 1]!.detail = { redacted: 1, note: 'masked' };
  return r;
}

interface Backend {
  name: string;
  open(): Promise<Store>;
}

let pg: Postgres;
let tmp: string;
let dbSeq = 0;

const backends: Backend[] = [
  {
    name: 'sqlite',
    open: async () => SqliteStore.open(path.join(tmp, `s${++dbSeq}.db`), { writer: 'inline' }),
  },
  {
    name: 'postgres',
    open: async () => {
      const url = await pg.createDatabase(`conf${++dbSeq}`);
      return PgStore.open({ url, port: 5432, database: 'x', user: 'x', pool_max: 4, statement_timeout_ms: 10_000, connect_timeout_ms: 5000 });
    },
  },
];

beforeAll(async () => {
  tmp = makeTempDir('store-conf');
  pg = await Postgres.start();
});

afterAll(async () => {
  await pg?.stop();
  if (tmp) removeTempDir(tmp);
});

const texts = (rows: EventRow[]): Array<string | null> => rows.map((r) => r.text);
/** A row without what differs by construction between two stores (the run id). */
const comparable = ({ run: _run, ...r }: EventRow): Omit<EventRow, 'run'> => r;

/** Every backend's answer to the same call, for the cross-check. */
const answers = new Map<string, Map<string, unknown>>();
function remember(backend: string, what: string, v: unknown): void {
  if (!answers.has(what)) answers.set(what, new Map());
  answers.get(what)!.set(backend, v);
}

describe.each(backends)('store conformance: $name', (b) => {
  let store: Store;

  beforeAll(async () => {
    store = await b.open();
    const data = dataset();
    // Two batches, as the queue would send them.
    await store.writeBatch(data.slice(0, 8));
    await store.writeBatch(data.slice(8));
  });

  afterAll(async () => {
    await store?.close();
  });

  test('count, with filters', async () => {
    expect(await store.count()).toBe(20);
    expect(await store.count({ user: 'alice' })).toBe(6);
    expect(await store.count({ account: 'bob@imgate.test' })).toBe(3); // as peer
    expect(await store.count({ protocol: 'jabber' })).toBe(4); // by app
    expect(await store.count({ protocol: 'irc' })).toBe(15);
    expect(await store.count({ peer: '#ops' })).toBe(7);
    expect(await store.count({ since: T0 + 3000, until: T0 + 7000 })).toBe(4);
  });

  test('search: words, case, diacritics, hyphens, every piece must match', async () => {
    const s = async (text: string, extra = {}): Promise<Array<string | null>> => texts(await store.search({ text, ...extra }));
    expect(await s('quarterly')).toEqual(['Hello Bob, the quarterly report is ready']);
    expect(await s('QUARTERLY Report')).toEqual(['Hello Bob, the quarterly report is ready']);
    expect(await s('cafe')).toEqual(['Thanks Alice! Café at noon?']);
    expect(await s('unicode WORDS')).toEqual(['Ünïcödé wörds and e-mail bob@example.org']);
    expect(await s('foo-bar')).toEqual(['deploy foo-bar to prod now']);
    expect(await s('prod foo')).toEqual(['deploy foo-bar to prod now']);
    expect(await s('bob@example.org')).toEqual(['Ünïcödé wörds and e-mail bob@example.org']);
    expect(await s('quarterly noon')).toEqual([]);
    expect(await s('quart')).toEqual([]); // whole words, no prefix search
    expect(await s('quarterly', { user: 'bob' })).toEqual([]);
    const all = await store.search({ text: 'status', order: 'oldest' });
    expect(all.map((r) => r.text)).toEqual(Array.from({ length: 12 }, (_, i) => `status update number ${i}`));
    remember(b.name, 'search status', all.map(comparable));
  });

  test('search: FTS syntax in the user text is plain text, never syntax', async () => {
    const s = async (text: string): Promise<Array<string | null>> => texts(await store.search({ text }));
    expect(await s('" OR * NEAR( -')).toEqual(['weird " OR * NEAR( - chars']);
    expect(await s('"foo bar"')).toEqual(['deploy foo-bar to prod now']);
    // AND is a word like any other: it finds the message that says "and".
    expect(await s('AND')).toEqual(['Ünïcödé wörds and e-mail bob@example.org']);
    const WEIRD = 'weird " OR * NEAR( - chars';
    const FOO = 'deploy foo-bar to prod now';
    // Each piece means its words, nothing more: operators, prefixes, column
    // filters and SQL are plain text, and pieces without words are left out.
    const cases: Array<[string, string[]]> = [
      ['*', []], ['"', []], ['-', []], ['(', []], [')', []], ['^', []], [':', []], ['\\', []], ['\0', []], ['{x}', []],
      ['NEAR(', [WEIRD]], ['NEAR(weird chars)', []], ['OR', [WEIRD]], ['NOT', []], ['weird OR nothing', []],
      ["'; DROP TABLE events; --", []], ['text:hello', []], ['a & b | !c', []], ['foo:*', [FOO]], ['fo*', []], ['"prod now"', [FOO]],
      ['now prod', [FOO]], ['prod:now', [FOO]], ['deploy -prod', [FOO]],
    ];
    for (const [hostile, want] of cases) expect([hostile, await s(hostile)]).toEqual([hostile, want]);
    expect(await store.count()).toBe(20); // nothing was dropped
  });

  test('search: filters, order, limit, afterSeq, kind, action', async () => {
    const blocked = await store.search({ action: 'block' });
    expect(blocked.map((r) => r.rule)).toEqual(['no-photos', 'no-deploy']);
    const newest = await store.search({ limit: 3 });
    expect(newest.map((r) => r.time)).toEqual([T0 + 60_000 + 11 * 15_000, T0 + 60_000 + 10 * 15_000, T0 + 60_000 + 9 * 15_000]);
    const oldest = await store.search({ order: 'oldest', limit: 2 });
    expect(oldest.map((r) => r.kind)).toEqual(['login', 'message']);
    const after = await store.search({ afterSeq: oldest[1]!.seq, order: 'oldest' });
    expect(after).toHaveLength(18);
    expect(after[0]!.seq).toBeGreaterThan(oldest[1]!.seq);
    const conv = await store.search({ account: 'alice@imgate.test', peer: 'bob@imgate.test', kind: 'message', order: 'oldest' });
    expect(texts(conv)).toEqual(['Hello Bob, the quarterly report is ready', 'Thanks Alice! Café at noon?']);
    const row = conv[0]!;
    expect(row).toMatchObject({
      user: 'alice', client_ip: '127.0.0.1', groups: ['staff', 'sales'], protocol: 'xmpp', app: 'jabber', direction: 'out',
      door: 'socks5', destination: '127.0.0.1:5222', action: 'allow', rule: 'default', detail: null, file_name: null,
    });
    const masked = await store.search({ text: 'number 11' });
    expect(masked[0]!.detail).toEqual({ redacted: 1, note: 'masked' });
    remember(b.name, 'search all', (await store.search({ limit: 1000 })).map(comparable));
  });

  test('files, file name globs, file()', async () => {
    const all = await store.files({});
    expect(all.map((f) => f.name)).toEqual(['photo.jpg', 'Report Q1.PDF']);
    expect(all[0]).toEqual({
      time: T0 + 6000, user: 'bob', protocol: 'http', app: 'slack', account: 'bob', peer: 'general', direction: 'out',
      name: 'photo.jpg', size: 99, sha256: SHA_JPG, action: 'block', rule: 'no-photos', stored_path: null,
    });
    expect((await store.files({ name: '*.pdf' })).map((f) => f.name)).toEqual(['Report Q1.PDF']);
    expect((await store.files({ name: 'PHOTO.???' })).map((f) => f.name)).toEqual(['photo.jpg']);
    expect(await store.files({ name: '*.exe' })).toEqual([]);
    await store.putFile({ sha256: SHA_PDF, name: 'Report Q1.PDF', size: 1234, time: T0 + 5000, storedPath: '/var/files/aa/aaaa' });
    expect((await store.files({ name: '*.pdf' }))[0]!.stored_path).toBe('/var/files/aa/aaaa');
    expect(await store.file(SHA_PDF)).toEqual({ sha256: SHA_PDF, name: 'Report Q1.PDF', size: 1234, first_seen: T0 + 5000, stored_path: '/var/files/aa/aaaa' });
    expect(await store.file(SHA_JPG)).toEqual({ sha256: SHA_JPG, name: 'photo.jpg', size: 99, first_seen: T0 + 6000, stored_path: null });
    expect(await store.file('f'.repeat(64))).toBeNull();
    expect(await store.archivedBytes()).toBe(1234);
    remember(b.name, 'files', await store.files({}));
  });

  test('report: per user and per protocol/app, top peers', async () => {
    const r = await store.report({ topPeers: 2 });
    expect(r.total).toEqual({ events: 20, messages: 17, files: 2, blocks: 2 });
    const users = Object.fromEntries(r.by_user.map((l) => [l.key, l]));
    expect(users.dave).toMatchObject({ messages: 12, files: 0, blocks: 0, events: 12, top_peers: [{ peer: 'erin', count: 8 }, { peer: '#ops', count: 4 }] });
    expect(users.alice).toMatchObject({ messages: 4, files: 1, blocks: 1, events: 6 });
    expect(users.alice!.top_peers).toEqual([{ peer: 'bob@imgate.test', count: 3 }, { peer: '#ops', count: 2 }]);
    expect(users['127.0.0.9']).toMatchObject({ messages: 1, events: 1 }); // no user: the client address
    // Busiest first; the order among equal counts is not part of the contract.
    expect(r.by_user.map((l) => l.key).slice(0, 2)).toEqual(['dave', 'alice']);
    expect(r.by_user.map((l) => l.key).slice(2).sort()).toEqual(['127.0.0.9', 'bob']);
    expect(r.by_protocol.map((l) => [l.key, l.events])).toEqual([['irc', 15], ['xmpp/jabber', 4], ['http/slack', 1]]);
    const windowed = await store.report({ since: T0 + 60_000 });
    expect(windowed.total.events).toBe(12);
    const ties = (l: ReportLine[]): ReportLine[] => [...l].sort((x, y) => y.events - x.events || (x.key < y.key ? -1 : 1));
    remember(b.name, 'report', { ...r, by_user: ties(r.by_user), by_protocol: ties(r.by_protocol) });
  });

  test('series: per-minute buckets by protocol, by user with top and (other)', async () => {
    const byProto = await store.series({ since: T0, until: T0 + 10 * MIN, bucketMs: MIN, by: 'protocol' });
    const sorted = [...byProto].sort((a, b2) => a.t - b2.t || a.key.localeCompare(b2.key));
    expect(sorted).toEqual([
      { t: T0, key: 'http', count: 1 },
      { t: T0, key: 'irc', count: 3 },
      { t: T0, key: 'xmpp', count: 4 },
      { t: T0 + MIN, key: 'irc', count: 4 },
      { t: T0 + 2 * MIN, key: 'irc', count: 4 },
      { t: T0 + 3 * MIN, key: 'irc', count: 4 },
    ]);
    const byUser = await store.series({ since: T0, until: T0 + 10 * MIN, bucketMs: 5 * MIN, by: 'user', top: 1 });
    const m = Object.fromEntries(byUser.map((p) => [`${p.t}/${p.key}`, p.count]));
    expect(m).toEqual({ [`${T0}/dave`]: 12, [`${T0}/(other)`]: 8 });
    const blocks = await store.series({ since: T0, until: T0 + 10 * MIN, bucketMs: MIN, by: 'action', user: 'alice' });
    expect(blocks.filter((p) => p.key === 'block')).toEqual([{ t: T0, key: 'block', count: 1 }]);
    remember(b.name, 'series', sorted);
  });

  test('conversations: account/peer pairs, newest first', async () => {
    const c = await store.conversations({});
    const key = (x: { account: string | null; peer: string }): string => `${x.account} -> ${x.peer}`;
    expect(c.map(key)).toEqual(['dave -> erin', 'dave -> #ops', 'alice -> #ops', 'carol -> #ops', 'alice@imgate.test -> bob@imgate.test']);
    expect(c[2]).toEqual({ protocol: 'irc', app: null, account: 'alice', peer: '#ops', messages: 2, blocks: 1, first: T0 + 3000, last: T0 + 7000 });
    expect((await store.conversations({ user: 'alice', limit: 1 })).map(key)).toEqual(['alice -> #ops']);
    remember(b.name, 'conversations', c);
  });

  test('iterate: every event in insertion order, lazily', async () => {
    const seen: EventRow[] = [];
    for await (const r of store.iterate({})) seen.push(r);
    expect(seen).toHaveLength(20);
    expect(seen.map((r) => r.seq)).toEqual([...seen.map((r) => r.seq)].sort((a, x) => a - x));
    expect(seen[0]!.kind).toBe('login');
    const some: EventRow[] = [];
    for await (const r of store.iterate({ since: T0 + 60_000 })) {
      some.push(r);
      if (some.length === 3) break; // an early stop releases the cursor
    }
    expect(some.map((r) => r.text)).toEqual(['status update number 0', 'status update number 1', 'status update number 2']);
    expect(await store.count()).toBe(20); // the store still answers after the early stop
  });

  test('stats', async () => {
    const st = await store.stats();
    expect(st).toMatchObject({ events: 20, sessions: 5, files: 2 });
    expect(st.dbBytes).toBeGreaterThan(0);
  });
});

describe.each(backends)('store retention: $name', (b) => {
  test('deleteBefore / deleteOldest remove events, sessions and unreferenced files, and name the archived paths', async () => {
    const store = await b.open();
    try {
      nextId = 100;
      await store.writeBatch([
        rec({ ...XMPP, time: T0, conn: '1', kind: 'file', user: 'alice', file: { name: 'old.zip', size: 10, sha256: SHA_OLD } }),
        rec({ ...XMPP, time: T0 + 1, conn: '1', kind: 'message', user: 'alice', text: 'old message' }),
        rec({ ...XMPP, time: T0 + 2 * MIN, conn: '2', kind: 'file', user: 'alice', file: { name: 'new.pdf', size: 20, sha256: SHA_PDF } }),
        rec({ ...XMPP, time: T0 + 3 * MIN, conn: '2', kind: 'message', user: 'alice', text: 'new message one' }),
        rec({ ...XMPP, time: T0 + 4 * MIN, conn: '3', kind: 'message', user: 'bob', text: 'new message two' }),
      ]);
      await store.putFile({ sha256: SHA_OLD, name: 'old.zip', size: 10, time: T0, storedPath: '/arch/old' });
      await store.putFile({ sha256: SHA_PDF, name: 'new.pdf', size: 20, time: T0 + 2 * MIN, storedPath: '/arch/new' });
      expect(await store.archivedBytes()).toBe(30);

      const r1 = await store.deleteBefore(T0 + MIN);
      expect(r1).toEqual({ events: 2, orphanedPaths: ['/arch/old'] });
      expect(await store.file(SHA_OLD)).toBeNull();
      expect(await store.archivedBytes()).toBe(20);
      expect((await store.stats()).sessions).toBe(2);
      expect(texts(await store.search({ text: 'message', order: 'oldest' }))).toEqual(['new message one', 'new message two']);

      const r2 = await store.deleteOldest(2);
      expect(r2).toEqual({ events: 2, orphanedPaths: ['/arch/new'] });
      expect(texts(await store.search({}))).toEqual(['new message two']);
      expect((await store.stats())).toMatchObject({ events: 1, sessions: 1, files: 0 });
      expect(await store.archivedBytes()).toBe(0);

      const r3 = await store.deleteBefore(T0 + 10 * MIN, 0);
      expect(r3.events).toBe(0);
      expect(await store.count()).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe('both backends give the same rows for the same data', () => {
  test.each(['search all', 'search status', 'files', 'report', 'series', 'conversations'])('%s', (what) => {
    const m = answers.get(what);
    expect(m?.get('sqlite')).toBeDefined();
    expect(m?.get('postgres')).toBeDefined();
    expect(m!.get('postgres')).toEqual(m!.get('sqlite'));
  });
});

describe('postgres only: bad input and a fleet opening at once', () => {
  const settings = (url: string) => ({ url, port: 5432, database: 'x', user: 'x', pool_max: 2, statement_timeout_ms: 10_000, connect_timeout_ms: 5000 });

  test('four stores opening a fresh database at once: one schema, all write, distinct runs', async () => {
    const url = await pg.createDatabase('race');
    const stores = await Promise.all([0, 1, 2, 3].map(() => PgStore.open(settings(url))));
    try {
      expect(new Set(stores.map((s) => s.run)).size).toBe(4);
      await Promise.all(stores.map((s, i) => s.writeBatch([rec({ ...IRC, time: T0 + i, conn: '1', kind: 'message', user: `u${i}`, text: `hello from node ${i}` })])));
      expect(await stores[0]!.count()).toBe(4);
      expect((await stores[0]!.stats()).sessions).toBe(4); // same conn id, four runs: four sessions
      expect(texts(await stores[3]!.search({ text: 'node', order: 'oldest' }))).toEqual([0, 1, 2, 3].map((i) => `hello from node ${i}`));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('binary file names, a 3 MB message, SQL in every field: stored, searchable, nothing breaks', async () => {
    const store = await PgStore.open(settings(await pg.createDatabase('bad')));
    try {
      const huge = `needle ${'lorem ipsum '.repeat(260_000)} haystack-end`;
      await store.writeBatch([
        rec({ ...IRC, time: T0, conn: '1', kind: 'file', user: "o'brien", file: { name: 'evil\0name\u0001\uFFFF.exe', size: 1, sha256: SHA_OLD } }),
        rec({ ...IRC, time: T0 + 1, conn: '1', kind: 'message', user: "o'brien", peer: "#x'); DROP TABLE events; --", text: huge }),
      ]);
      const files = await store.files({ name: 'evil*' });
      expect(files.map((f) => f.name)).toEqual(['evil\u2400name\u0001\uFFFF.exe']); // NUL cannot be stored in PostgreSQL text
      const hit = await store.search({ text: 'needle' });
      expect(hit).toHaveLength(1);
      expect(hit[0]!.text).toBe(huge); // the full text is kept
      expect(hit[0]!.peer).toBe("#x'); DROP TABLE events; --");
      expect(await store.search({ user: "o'brien", kind: 'message' })).toHaveLength(1);
      expect(await store.count()).toBe(2);
    } finally {
      await store.close();
    }
  });

  test('read-only open (the CLI) refuses writes and an empty database', async () => {
    const url = await pg.createDatabase('ro');
    await expect(PgStore.open(settings(url), { readonly: true })).rejects.toThrow(/no imgate record store/);
    await (await PgStore.open(settings(url))).close();
    const ro = await PgStore.open(settings(url), { readonly: true });
    try {
      await expect(ro.writeBatch([rec({ time: T0, kind: 'message' })])).rejects.toThrow(/read-only/);
      expect(await ro.count()).toBe(0);
    } finally {
      await ro.close();
    }
  });
});
