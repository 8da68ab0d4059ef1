// AuditQueue: batched, off the hot path, bounded (drops counted), one batch
// write in flight at a time, and flushed completely on close.
import { AuditQueue, type QueueMetrics } from '../../../src/audit/queue';
import type { SqliteStore } from '../../../src/audit/sqlite';
import type { AuditRecord, Store } from '../../../src/audit/types';
import { ev, silent, storePerTest, tempStore, type TempStore } from './helpers';

function counters(): QueueMetrics & { w: number; d: number; depthSeen: number[]; f: number } {
  const c = { w: 0, d: 0, f: 0, depthSeen: [] as number[], written: (n: number) => void (c.w += n), dropped: (n: number) => void (c.d += n), depth: (n: number) => void c.depthSeen.push(n), failed: (n: number) => void (c.f += n) };
  return c;
}

const allow = { action: 'allow' as const, rule: 'default' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a spied batch write sees: its size and first text; `write` does the real write. */
type BatchHook = (b: { n: number; first: string }, write: () => Promise<void>) => Promise<void>;

/**
 * The store with its batch writes going through `hook` (everything else
 * delegated), in either form the queue uses: 'records' (a store without
 * newBatch: the queue calls writeBatch, as with PostgreSQL) or 'encoded'
 * (SQLite's own batches, filled as events are recorded).
 */
function withWrite(form: 'records' | 'encoded', store: SqliteStore, hook: BatchHook): Store {
  const s = Object.create(store) as Store & { newBatch?: Store['newBatch'] };
  if (form === 'records') {
    s.newBatch = undefined;
    s.writeBatch = (r: readonly AuditRecord[]) => hook({ n: r.length, first: r[0]?.ev.text ?? '' }, () => store.writeBatch(r));
  } else {
    s.newBatch = () => {
      const b = store.newBatch();
      let first = '';
      return {
        get count() {
          return b.count;
        },
        add: (r: AuditRecord) => {
          if (b.count === 0) first = r.ev.text ?? '';
          b.add(r);
        },
        write: () => hook({ n: b.count, first }, () => b.write()),
      };
    };
  }
  return s;
}

describe.each(['records', 'encoded'] as const)('AuditQueue (%s batches)', (form) => {
  let t: TempStore;
  let store: SqliteStore;
  storePerTest((s) => {
    t = s;
    store = s.store;
  });
  const asForm = (): Store => withWrite(form, store, (_b, write) => write());

  test('record() does not write synchronously; the timer writes within a flush interval', async () => {
    const m = counters();
    const q = new AuditQueue(asForm(), { queueMax: 1000, batchMax: 100, flushIntervalMs: 50 }, m, silent);
    for (let i = 0; i < 10; i++) q.record(ev({ text: `m${i}` }), allow);
    expect(await store.count()).toBe(0);
    expect(q.depth).toBe(10);
    await sleep(150);
    expect(await store.count()).toBe(10);
    expect(m.w).toBe(10);
    expect(m.depthSeen.at(-1)).toBe(0);
    await q.close();
  });

  test('batches are at most batch_max events, one transaction each', async () => {
    const sizes: number[] = [];
    const spy = withWrite(form, store, async (b, write) => {
      sizes.push(b.n);
      await write();
    });
    const q = new AuditQueue(spy, { queueMax: 10_000, batchMax: 300, flushIntervalMs: 10_000 }, counters(), silent);
    for (let i = 0; i < 1000; i++) q.record(ev(), allow);
    await q.flush();
    expect(sizes).toEqual([300, 300, 300, 100]);
    expect(await store.count()).toBe(1000);
    await q.close();
  });

  test('one batch write in flight at a time, in order; records keep queueing meanwhile', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const order: string[] = [];
    const slow = withWrite(form, store, async (b, write) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(15);
      order.push(b.first);
      await write();
      inFlight--;
    });
    const q = new AuditQueue(slow, { queueMax: 10_000, batchMax: 10, flushIntervalMs: 5 }, counters(), silent);
    for (let i = 0; i < 25; i++) q.record(ev({ text: `b${i}` }), allow);
    await sleep(20);
    for (let i = 25; i < 50; i++) q.record(ev({ text: `b${i}` }), allow);
    await q.close();
    expect(maxInFlight).toBe(1);
    // Batch boundaries depend on when the timer sealed a partial batch; the order never does.
    const firsts = order.map((x) => Number(x.slice(1)));
    expect(firsts[0]).toBe(0);
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    expect(new Set(firsts).size).toBe(firsts.length);
    expect(await store.count()).toBe(50);
  });

  test('events that arrive during a write wait for the next tick: no sliver of a batch after every commit', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const spy = withWrite(form, store, async (b, write) => {
      sizes.push(b.n);
      if (sizes.length === 1) await gate;
      await write();
    });
    const q = new AuditQueue(spy, { queueMax: 10_000, batchMax: 1000, flushIntervalMs: 200 }, counters(), silent);
    for (let i = 0; i < 5; i++) q.record(ev(), allow);
    while (sizes.length === 0) await sleep(5);
    for (let i = 0; i < 3; i++) q.record(ev(), allow);
    release();
    await sleep(10);
    expect(sizes).toEqual([5]);
    await sleep(250);
    expect(sizes).toEqual([5, 3]);
    await q.close();
    expect(await store.count()).toBe(8);
  });

  test('a full batch is written soon, without waiting for the timer', async () => {
    const q = new AuditQueue(asForm(), { queueMax: 10_000, batchMax: 100, flushIntervalMs: 60_000 }, counters(), silent);
    for (let i = 0; i < 250; i++) q.record(ev(), allow);
    await sleep(50);
    // Full batches go at once; the remainder (50) waits for the timer or close().
    expect(await store.count()).toBeGreaterThanOrEqual(200);
    await q.close();
    expect(await store.count()).toBe(250);
  });

  test('a full queue drops (counted, never blocks); what was queued is still written', async () => {
    const m = counters();
    const q = new AuditQueue(asForm(), { queueMax: 100, batchMax: 1000, flushIntervalMs: 60_000 }, m, silent);
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) q.record(ev({ text: `n${i}` }), allow);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(q.depth).toBe(100);
    expect(m.d).toBe(900);
    expect(q.dropped).toBe(900);
    await q.close();
    expect(await store.count()).toBe(100);
    expect(await store.search({ text: 'n99' })).toHaveLength(1);
    expect(await store.search({ text: 'n100' })).toHaveLength(0);
  });

  test('close() writes everything queued, also behind a write already in flight; later records are counted as dropped', async () => {
    const m = counters();
    const q = new AuditQueue(asForm(), { queueMax: 100_000, batchMax: 1000, flushIntervalMs: 1 }, m, silent);
    for (let i = 0; i < 5500; i++) q.record(ev(), allow);
    await sleep(2); // let the timer start a write
    await q.close();
    expect(await store.count()).toBe(5500);
    expect(m.w).toBe(5500);
    q.record(ev(), allow);
    expect(m.d).toBe(1);
  });

  test('a failing store is retried, then the batch is dropped and counted; the queue goes on', async () => {
    const m = counters();
    let fail = 7;
    const flaky = withWrite(form, store, async (_b, write) => {
      if (fail-- > 0) throw new Error('disk I/O error');
      await write();
    });
    const q = new AuditQueue(flaky, { queueMax: 1000, batchMax: 10, flushIntervalMs: 60_000 }, m, silent);
    for (let i = 0; i < 20; i++) q.record(ev(), allow);
    await q.flush();
    expect(m.f).toBe(7);
    expect(m.d).toBe(10); // the first batch after 5 failures
    expect(await store.count()).toBe(10); // the second one after 2 more failures
    await q.close();
  });

  test('on the timer path a failed batch waits for the next tick and is then written', async () => {
    const m = counters();
    let fail = 1;
    const flaky = withWrite(form, store, async (_b, write) => {
      if (fail-- > 0) throw new Error('database is locked');
      await write();
    });
    const q = new AuditQueue(flaky, { queueMax: 1000, batchMax: 10, flushIntervalMs: 20 }, m, silent);
    for (let i = 0; i < 5; i++) q.record(ev(), allow);
    await sleep(100);
    expect(m.f).toBe(1);
    expect(m.d).toBe(0);
    expect(await store.count()).toBe(5);
    await q.close();
  });
});

describe('AuditQueue over SQLite batches', () => {
  test('an event that cannot be encoded is dropped and counted, never thrown; the rest of its batch is written', async () => {
    const t = await tempStore();
    try {
      const m = counters();
      const q = new AuditQueue(t.store, { queueMax: 1000, batchMax: 10, flushIntervalMs: 60_000 }, m, silent);
      q.record(ev({ text: 'before' }), allow);
      const bad = ev({ text: 'broken' });
      (bad as { groups: unknown }).groups = undefined;
      expect(() => q.record(bad, allow)).not.toThrow();
      q.record(ev({ text: 'after' }), allow);
      await q.close();
      expect(m.d).toBe(1);
      expect((await t.store.search({ order: 'oldest' })).map((r) => r.text)).toEqual(['before', 'after']);
    } finally {
      await t.done();
    }
  });
});

describe('AuditQueue throughput (printed, loosely bounded)', () => {
  test('record() costs well under a microsecond-scale budget; stored events per second', async () => {
    const t = await tempStore();
    try {
      const q = new AuditQueue(t.store, { queueMax: 1_000_000, batchMax: 1000, flushIntervalMs: 60_000 }, counters(), silent);
      const events = Array.from({ length: 20_000 }, (_, i) => ev({ conn: `c${i % 100}`, text: `message ${i} about the quarterly numbers and other things` }));
      const t0 = process.hrtime.bigint();
      for (const e of events) q.record(e, allow);
      const t1 = process.hrtime.bigint();
      await q.close();
      const t2 = process.hrtime.bigint();
      const recordNs = Number(t1 - t0) / events.length;
      const perSec = Math.round(events.length / (Number(t2 - t1) / 1e9));
      process.stdout.write(`audit: record() ${recordNs.toFixed(0)} ns/event; ${perSec} events/s written (batches of 1000, FTS on)\n`);
      expect(await t.store.count()).toBe(20_000);
      expect(recordNs).toBeLessThan(20_000);
      expect(perSec).toBeGreaterThan(5000);
    } finally {
      await t.done();
    }
  });
});

// Large bodies: the SQLite store's batches are bounded in bytes, and so is the queue.
describe('AuditQueue over encoded batches: bounded in bytes', () => {
  let store: SqliteStore;
  storePerTest((s) => (store = s.store));
  const big = (i: number): string => `body${i} ${'x'.repeat(64 * 1024)}`;

  test('a batch is sealed at 4 MiB whatever batch_max says', async () => {
    const sizes: number[] = [];
    const s = Object.create(store) as Store;
    s.newBatch = () => {
      const b = store.newBatch();
      return {
        get count() {
          return b.count;
        },
        get full() {
          return b.full;
        },
        get bytes() {
          return b.bytes;
        },
        add: (r: AuditRecord) => b.add(r),
        write: async () => {
          sizes.push(b.count);
          await b.write();
        },
      };
    };
    const m = counters();
    const q = new AuditQueue(s, { queueMax: 100_000, batchMax: 1000, flushIntervalMs: 60_000 }, m, silent);
    for (let i = 0; i < 150; i++) q.record(ev({ text: big(i) }), allow);
    await q.close();
    // 64 events of 64 KiB (+ their fields) reach 4 MiB: 64 + 64 + the 22 left at close.
    expect(sizes).toEqual([64, 64, 22]);
    expect(m.w).toBe(150);
    expect(m.d).toBe(0);
    expect(await store.count()).toBe(150);
    expect((await store.search({ text: 'body149' }))[0]?.text).toBe(big(149));
  });

  test('past its byte bound the queue drops new events (counted); what it holds is written', async () => {
    const m = counters();
    // Nothing is written while the loop runs (no await): the bound is what stops the growth.
    const q = new AuditQueue(store, { queueMax: 100_000, batchMax: 10, flushIntervalMs: 60_000, maxBytes: 1024 * 1024 }, m, silent);
    for (let i = 0; i < 100; i++) q.record(ev({ text: big(i) }), allow);
    // 1 MiB holds 15 events of 64 KiB and a bit: the 16th crosses the bound, later ones are dropped.
    expect(q.depth).toBe(16);
    expect(m.d).toBe(84);
    await q.close();
    expect(await store.count()).toBe(16);
    expect(await store.search({ text: 'body15' })).toHaveLength(1);
    expect(await store.search({ text: 'body16' })).toHaveLength(0);
  });
});
