// The queries behind the admin UI: usage series (bucketing, top keys and the
// '(other)' fold), conversations per account and peer (channels too), one
// archived file by sha256, and the search filters a live view and a
// transcript use (afterSeq, order, action, peer).
import type { SqliteStore } from '../../../src/audit/sqlite';
import { rec, storePerTest, type TempStore } from './helpers';

const H = 3_600_000;
/** Aligned to 2 h buckets (and so to 1 h ones), so expected bucket starts are easy to read. */
const T0 = Math.floor(Date.now() / (2 * H)) * (2 * H) - 10 * H;

describe('store queries for the admin UI', () => {
  let t: TempStore;
  let store: SqliteStore;
  storePerTest((s) => {
    t = s;
    store = s.store;
  });

  test('series: counts per bucket and key; buckets are multiples of bucketMs; empty buckets absent', async () => {
    await store.writeBatch([
      rec({ time: T0 + 1, protocol: 'irc' }),
      rec({ time: T0 + H - 1, protocol: 'irc' }),
      rec({ time: T0 + 5, protocol: 'xmpp' }),
      rec({ time: T0 + 2 * H + 7, protocol: 'irc' }),
      rec({ time: T0 + 2 * H + 8, protocol: undefined }),
      rec({ time: T0 + 20 * H, protocol: 'irc' }), // outside the window
    ]);
    const points = await store.series({ since: T0, until: T0 + 3 * H, bucketMs: H, by: 'protocol' });
    expect(points).toEqual([
      { t: T0, key: 'irc', count: 2 },
      { t: T0, key: 'xmpp', count: 1 },
      { t: T0 + 2 * H, key: 'irc', count: 1 },
      { t: T0 + 2 * H, key: 'unknown', count: 1 },
    ]);
  });

  test('series: the top keys stay, the rest are summed per bucket under (other); by user, action, kind', async () => {
    const users = ['alice', 'alice', 'alice', 'bob', 'bob', 'carol', 'dave'];
    await store.writeBatch(users.map((u, i) => rec({ time: T0 + (i % 2) * H, user: u })));
    await store.writeBatch([rec({ time: T0, user: undefined, clientIp: '10.0.0.9' }, { action: 'block', rule: 'r' })]);
    const top2 = await store.series({ since: T0, until: T0 + 2 * H, bucketMs: H, by: 'user', top: 2 });
    // alice (3) and bob (2) kept; carol, dave and 10.0.0.9 folded.
    const sum = (key: string) => top2.filter((p) => p.key === key).reduce((n, p) => n + p.count, 0);
    expect(new Set(top2.map((p) => p.key))).toEqual(new Set(['alice', 'bob', '(other)']));
    expect([sum('alice'), sum('bob'), sum('(other)')]).toEqual([3, 2, 3]);
    // dave and 10.0.0.9 at T0, carol at T0 + H.
    expect(top2.filter((p) => p.key === '(other)')).toEqual([
      { t: T0, key: '(other)', count: 2 },
      { t: T0 + H, key: '(other)', count: 1 },
    ]);
    // Within a bucket the busiest key comes first, (other) last.
    expect(top2.filter((p) => p.t === T0).map((p) => p.key)).toEqual(['alice', 'bob', '(other)']);
    const byAction = await store.series({ since: T0, until: T0 + 2 * H, bucketMs: 2 * H, by: 'action' });
    expect(byAction).toEqual([
      { t: T0, key: 'allow', count: 7 },
      { t: T0, key: 'block', count: 1 },
    ]);
    const byKind = await store.series({ since: T0, until: T0 + 2 * H, bucketMs: 2 * H, by: 'kind', user: 'alice' });
    expect(byKind).toEqual([{ t: T0, key: 'message', count: 3 }]);
    await expect(store.series({ since: T0, until: T0 + H, bucketMs: 0, by: 'kind' })).rejects.toThrow(/bucketMs/);
  });

  test('series: the (other) fold is exact per bucket', async () => {
    // bucket 0: a x3, b x1, c x1; bucket 1: b x2, c x1, d x1
    const spec: Array<[number, string]> = [[0, 'a'], [0, 'a'], [0, 'a'], [0, 'b'], [0, 'c'], [1, 'b'], [1, 'b'], [1, 'c'], [1, 'd']];
    await store.writeBatch(spec.map(([b, u]) => rec({ time: T0 + b * H + 10, user: u })));
    const p = await store.series({ since: T0, until: T0 + 2 * H, bucketMs: H, by: 'user', top: 2 });
    // totals: a 3, b 3, c 2, d 1 -> a and b kept (tie broken by name), c and d folded
    expect(p).toEqual([
      { t: T0, key: 'a', count: 3 },
      { t: T0, key: 'b', count: 1 },
      { t: T0, key: '(other)', count: 1 },
      { t: T0 + H, key: 'b', count: 2 },
      { t: T0 + H, key: '(other)', count: 2 },
    ]);
  });

  test('conversations: one per account and peer (users and channels), messages and blocks counted, most recent first', async () => {
    await store.writeBatch([
      rec({ time: T0 + 1, account: 'alice', peer: '#imgate', direction: 'out', text: 'hi all' }),
      rec({ time: T0 + 2, account: 'alice', peer: '#imgate', direction: 'in', text: 'hi alice' }),
      rec({ time: T0 + 3, account: 'alice', peer: '#imgate', text: 'falcon plans' }, { action: 'block', rule: 'no-falcon' }),
      rec({ time: T0 + 4, protocol: 'xmpp', account: 'alice@example.org', peer: 'bob@example.org', text: 'hello bob' }),
      rec({ time: T0 + 5, protocol: 'http', app: 'slack', account: 'U1', peer: 'C123', text: 'web message' }),
      rec({ time: T0 + 6, account: 'alice', peer: undefined, kind: 'login', text: undefined }),
      rec({ time: T0 + 7, account: 'alice', peer: 'bob', kind: 'file', text: undefined, file: { name: 'x.pdf' } }),
    ]);
    const all = await store.conversations({});
    expect(all).toEqual([
      { protocol: 'http', app: 'slack', account: 'U1', peer: 'C123', messages: 1, blocks: 0, first: T0 + 5, last: T0 + 5 },
      { protocol: 'xmpp', app: null, account: 'alice@example.org', peer: 'bob@example.org', messages: 1, blocks: 0, first: T0 + 4, last: T0 + 4 },
      { protocol: 'irc', app: null, account: 'alice', peer: '#imgate', messages: 3, blocks: 1, first: T0 + 1, last: T0 + 3 },
    ]);
    expect((await store.conversations({ protocol: 'xmpp' })).map((c) => c.peer)).toEqual(['bob@example.org']);
    expect((await store.conversations({ account: 'bob@example.org' })).map((c) => c.account)).toEqual(['alice@example.org']);
    expect(await store.conversations({ limit: 1 })).toHaveLength(1);
    expect(await store.conversations({ since: T0 + 10 })).toEqual([]);
  });

  test('a transcript: account + peer, oldest first', async () => {
    await store.writeBatch([
      rec({ time: T0 + 3, account: 'alice', peer: '#imgate', text: 'third' }),
      rec({ time: T0 + 1, account: 'alice', peer: '#imgate', text: 'first' }),
      rec({ time: T0 + 2, account: 'alice', peer: '#other', text: 'elsewhere' }),
      rec({ time: T0 + 2, account: 'alice', peer: '#imgate', text: 'second' }),
    ]);
    const tr = await store.search({ account: 'alice', peer: '#imgate', order: 'oldest' });
    expect(tr.map((r) => r.text)).toEqual(['first', 'second', 'third']);
    expect((await store.search({ peer: '#imgate' })).map((r) => r.text)).toEqual(['third', 'second', 'first']);
  });

  test('live view: afterSeq returns only later events, in insertion order; action filters the verdict', async () => {
    await store.writeBatch([rec({ text: 'one' }), rec({ text: 'two' }, { action: 'block', rule: 'r' })]);
    const seen = await store.search({ order: 'oldest' });
    const last = seen[seen.length - 1]?.seq ?? 0;
    expect(await store.search({ afterSeq: last, order: 'oldest' })).toEqual([]);
    // A later batch may carry an earlier event time: still after the cursor.
    await store.writeBatch([rec({ text: 'three', time: Date.now() - 60_000 }), rec({ text: 'four' }, { action: 'redact', rule: 'm' })]);
    const next = await store.search({ afterSeq: last, order: 'oldest' });
    expect(next.map((r) => r.text)).toEqual(['three', 'four']);
    expect(next[0]?.seq).toBeGreaterThan(last);
    expect((await store.search({ afterSeq: last, order: 'oldest', limit: 1 })).map((r) => r.text)).toEqual(['three']);
    expect((await store.search({ action: 'block' })).map((r) => r.text)).toEqual(['two']);
    expect((await store.search({ action: 'redact', text: 'four' })).map((r) => r.text)).toEqual(['four']);
    expect(await store.count({ peer: '#imgate' })).toBe(4);
  });

  test('file(sha256): the archived file row, or null', async () => {
    const sha = 'ab'.repeat(32);
    await store.putFile({ sha256: sha, name: 'plan.pdf', size: 1234, time: T0, storedPath: `files/ab/${sha}` });
    expect(await store.file(sha)).toEqual({ sha256: sha, name: 'plan.pdf', size: 1234, first_seen: T0, stored_path: `files/ab/${sha}` });
    expect(await store.file('cd'.repeat(32))).toBeNull();
    // Metadata only (over a cap): stored_path stays null.
    await store.writeBatch([rec({ kind: 'file', text: undefined, file: { name: 'big.iso', size: 9, sha256: 'ef'.repeat(32) } })]);
    expect(await store.file('ef'.repeat(32))).toMatchObject({ name: 'big.iso', size: 9, stored_path: null });
  });

  test('iterate: every event in insertion order, across pages', async () => {
    await store.writeBatch(Array.from({ length: 2500 }, (_, i) => rec({ text: `m${i}` })));
    const texts: string[] = [];
    for await (const r of store.iterate({})) texts.push(r.text ?? '');
    expect(texts).toHaveLength(2500);
    expect(texts[0]).toBe('m0');
    expect(texts[2499]).toBe('m2499');
  });
});
