// AuditQueue: batched, off the hot path, bounded (drops counted), and flushed
// completely on close.
import { join } from 'node:path';
import { AuditQueue, type QueueMetrics } from '../../../src/audit/queue';
import { SqliteStore } from '../../../src/audit/sqlite';
import type { AuditRecord, Store } from '../../../src/audit/types';
import { ev, silent, tempDir } from './helpers';

function counters(): QueueMetrics & { w: number; d: number; depthSeen: number[]; f: number } {
  const c = { w: 0, d: 0, f: 0, depthSeen: [] as number[], written: (n: number) => void (c.w += n), dropped: (n: number) => void (c.d += n), depth: (n: number) => void c.depthSeen.push(n), failed: (n: number) => void (c.f += n) };
  return c;
}

const allow = { action: 'allow' as const, rule: 'default' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AuditQueue', () => {
  let t: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  beforeEach(() => {
    t = tempDir();
    store = new SqliteStore(join(t.dir, 'imgate.db'));
  });
  afterEach(() => {
    store.close();
    t.done();
  });

  test('record() does not write synchronously; the timer writes within a flush interval', async () => {
    const m = counters();
    const q = new AuditQueue(store, { queueMax: 1000, batchMax: 100, flushIntervalMs: 50 }, m, silent);
    for (let i = 0; i < 10; i++) q.record(ev({ text: `m${i}` }), allow);
    expect(store.count()).toBe(0);
    expect(q.depth).toBe(10);
    await sleep(150);
    expect(store.count()).toBe(10);
    expect(m.w).toBe(10);
    expect(m.depthSeen.at(-1)).toBe(0);
    q.close();
  });

  test('batches are at most batch_max events, one transaction each', () => {
    const sizes: number[] = [];
    const spy: Store = Object.create(store) as Store;
    spy.writeBatch = (r: readonly AuditRecord[]) => {
      sizes.push(r.length);
      store.writeBatch(r);
    };
    const q = new AuditQueue(spy, { queueMax: 10_000, batchMax: 300, flushIntervalMs: 10_000 }, counters(), silent);
    for (let i = 0; i < 1000; i++) q.record(ev(), allow);
    q.flush();
    expect(sizes).toEqual([300, 300, 300, 100]);
    expect(store.count()).toBe(1000);
    q.close();
  });

  test('a full batch is written soon, without waiting for the timer', async () => {
    const q = new AuditQueue(store, { queueMax: 10_000, batchMax: 100, flushIntervalMs: 60_000 }, counters(), silent);
    for (let i = 0; i < 250; i++) q.record(ev(), allow);
    await sleep(20);
    // Batches are written one per turn of the event loop until the queue is empty.
    expect(store.count()).toBe(250);
    q.close();
  });

  test('a full queue drops (counted, never blocks); what was queued is still written', () => {
    const m = counters();
    const q = new AuditQueue(store, { queueMax: 100, batchMax: 1000, flushIntervalMs: 60_000 }, m, silent);
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) q.record(ev({ text: `n${i}` }), allow);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(q.depth).toBe(100);
    expect(m.d).toBe(900);
    expect(q.dropped).toBe(900);
    q.close();
    expect(store.count()).toBe(100);
    expect(store.search({ text: 'n99' })).toHaveLength(1);
    expect(store.search({ text: 'n100' })).toHaveLength(0);
  });

  test('close() writes everything queued, and later records are counted as dropped', () => {
    const m = counters();
    const q = new AuditQueue(store, { queueMax: 100_000, batchMax: 1000, flushIntervalMs: 60_000 }, m, silent);
    for (let i = 0; i < 5500; i++) q.record(ev(), allow);
    q.close();
    expect(store.count()).toBe(5500);
    expect(m.w).toBe(5500);
    q.record(ev(), allow);
    expect(m.d).toBe(1);
  });

  test('a failing store is retried, then the batch is dropped and counted; the queue goes on', () => {
    const m = counters();
    let fail = 7;
    const flaky: Store = Object.create(store) as Store;
    flaky.writeBatch = (r: readonly AuditRecord[]) => {
      if (fail-- > 0) throw new Error('disk I/O error');
      store.writeBatch(r);
    };
    const q = new AuditQueue(flaky, { queueMax: 1000, batchMax: 10, flushIntervalMs: 60_000 }, m, silent);
    for (let i = 0; i < 20; i++) q.record(ev(), allow);
    q.flush();
    expect(m.f).toBe(7);
    expect(m.d).toBe(10); // the first batch after 5 failures
    expect(store.count()).toBe(10); // the second one after 2 more failures
    q.close();
  });
});

describe('AuditQueue throughput (printed, loosely bounded)', () => {
  test('record() costs well under a microsecond-scale budget; stored events per second', () => {
    const t = tempDir();
    const store = new SqliteStore(join(t.dir, 'imgate.db'));
    try {
      const q = new AuditQueue(store, { queueMax: 1_000_000, batchMax: 1000, flushIntervalMs: 60_000 }, counters(), silent);
      const events = Array.from({ length: 20_000 }, (_, i) => ev({ conn: `c${i % 100}`, text: `message ${i} about the quarterly numbers and other things` }));
      const t0 = process.hrtime.bigint();
      for (const e of events) q.record(e, allow);
      const t1 = process.hrtime.bigint();
      q.close();
      const t2 = process.hrtime.bigint();
      const recordNs = Number(t1 - t0) / events.length;
      const perSec = Math.round(events.length / (Number(t2 - t1) / 1e9));
      process.stdout.write(`audit: record() ${recordNs.toFixed(0)} ns/event; ${perSec} events/s written (batches of 1000, FTS on)\n`);
      expect(store.count()).toBe(20_000);
      expect(recordNs).toBeLessThan(20_000);
      expect(perSec).toBeGreaterThan(5000);
    } finally {
      store.close();
      t.done();
    }
  });
});
