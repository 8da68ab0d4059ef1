// The SQLite writer thread (compiled dist/: build first): writes land
// through it and the main thread's read-only connection sees them; the
// queue over it loses nothing on close; a crashed thread is restarted and
// the batch that was in flight is written by the queue's retry.
import { AuditQueue, type QueueMetrics } from '../../../src/audit/queue';
import { SqliteStore } from '../../../src/audit/sqlite';
import { ev, rec, silent, spawnCompiled, storePerTest, type TempStore } from './helpers';

jest.setTimeout(20_000);

const allow = { action: 'allow' as const, rule: 'default' };
const metrics = (): QueueMetrics & { w: number; f: number; d: number } => {
  const c = { w: 0, f: 0, d: 0, written: (n: number) => void (c.w += n), dropped: (n: number) => void (c.d += n), failed: (n: number) => void (c.f += n), depth: () => undefined };
  return c;
};

describe('SQLite writer thread', () => {
  let t: TempStore;
  storePerTest((s) => (t = s), { writer: 'thread', spawn: spawnCompiled, logger: silent });

  test('writes go through the thread; queries on the main thread see them', async () => {
    expect(t.store.writerKind).toBe('thread');
    await t.store.writeBatch([rec({ text: 'through the writer thread' }), rec({ kind: 'file', text: undefined, file: { name: 'a.txt', size: 3, sha256: 'aa'.repeat(32) } })]);
    expect((await t.store.search({ text: 'writer thread' })).map((r) => r.text)).toEqual(['through the writer thread']);
    expect(await t.store.file('aa'.repeat(32))).toMatchObject({ name: 'a.txt' });
    const d = await t.store.deleteBefore(Date.now() + 1000, 10);
    expect(d.events).toBe(2);
    expect(await t.store.count()).toBe(0);
  });

  test('a failing batch is answered with its error and leaves nothing half-written', async () => {
    const bad = rec();
    (bad.ev as { kind: unknown }).kind = null;
    await expect(t.store.writeBatch([rec({ text: 'ok row' }), bad])).rejects.toThrow(/NOT NULL/);
    expect(await t.store.count()).toBe(0);
    await t.store.writeBatch([rec({ text: 'after the error' })]);
    expect(await t.store.count()).toBe(1);
  });

  test('close() on the queue: all N records are committed before the store closes', async () => {
    const m = metrics();
    const q = new AuditQueue(t.store, { queueMax: 100_000, batchMax: 500, flushIntervalMs: 5 }, m, silent);
    for (let i = 0; i < 5000; i++) q.record(ev({ text: `load ${i}` }), allow);
    await q.close();
    await t.store.close();
    const again = await t.reopen({ readonly: true });
    expect(await again.count()).toBe(5000);
    expect(m.w).toBe(5000);
  });

  test('a crashed thread is restarted and the batch in flight is retried by the queue', async () => {
    const m = metrics();
    const q = new AuditQueue(t.store, { queueMax: 100_000, batchMax: 2000, flushIntervalMs: 20 }, m, silent);
    for (let i = 0; i < 2000; i++) q.record(ev({ text: `before crash ${i}` }), allow);
    const writing = q.flush();
    t.store.thread?.crashForTest();
    await writing;
    for (let i = 0; i < 10; i++) q.record(ev({ text: `after crash ${i}` }), allow);
    await q.close();
    // The killed write either committed before the crash or was written again; nothing is lost.
    expect(await t.store.count({})).toBeGreaterThanOrEqual(2010);
    expect(await t.store.search({ text: 'after crash 9' })).toHaveLength(1);
    expect(m.d).toBe(0);
  });

  test('an unopenable database fails the open, without restart loops', async () => {
    await expect(SqliteStore.open('/dev/null/imgate/such.db', { writer: 'thread', spawn: spawnCompiled, logger: silent })).rejects.toThrow();
  });
});
