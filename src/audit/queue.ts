// The write path: recordEvent() adds to a bounded in-memory queue (O(1),
// never blocks the relay); a timer (or a full batch) drains it in batches,
// one store transaction per batch, one batch in flight at a time (the
// SQLite writer thread or the PostgreSQL server does the work). Events go
// into their batch as they arrive, in the store's own form when it has one
// (Store.newBatch: SQLite encodes them off the JS heap), so a queued event
// is not kept alive as an object. A full queue drops (counted, warned at
// most every 10 s). close() writes everything still queued: a SIGTERM drain
// loses nothing, a crash loses at most what arrived since the last tick.
import type { ImEvent, Verdict } from '../events/types';
import type { Logger } from '../log';
import type { AuditRecord, AuditSink, Detail, PendingBatch, Store } from './types';

export interface QueueSettings {
  queueMax: number;
  batchMax: number;
  flushIntervalMs: number;
}

/** Counters the queue reports into (src/admin/metrics.ts in the gateway). */
export interface QueueMetrics {
  written(n: number): void;
  dropped(n: number): void;
  depth(n: number): void;
  failed?(n: number): void;
}

const WARN_EVERY_MS = 10_000;
/**
 * Encoded events waiting, in bytes, beyond which new events are dropped
 * like past queue_max. queue_max alone counts events: 100 000 web IM events
 * of 64 KiB would be 6 GiB, and a writer that cannot keep up with large
 * bodies (measured: 64 KiB posts at 2-3k/s on 2 shared cores) grew the
 * gateway past 800 MB. 256 MiB is 4000 such events, 200 000 of 1 KiB.
 */
export const QUEUE_MAX_BYTES = 256 * 1024 * 1024;
/** A batch that fails this many times in a row is dropped (counted) so one bad row cannot wedge the queue. */
const MAX_ATTEMPTS = 5;

/** The form of a store without one of its own: the records, for writeBatch. */
class RecordBatch implements PendingBatch {
  private readonly records: AuditRecord[] = [];
  constructor(private readonly store: Store) {}
  get count(): number {
    return this.records.length;
  }
  add(r: AuditRecord): void {
    this.records.push(r);
  }
  write(): Promise<void> {
    return this.store.writeBatch(this.records);
  }
}

export class AuditQueue implements AuditSink {
  /** Batches ready to write (full, or sealed by a tick), oldest first; the head is the one being written. */
  private readonly sealed: PendingBatch[] = [];
  /** The batch new events go into. */
  private open: PendingBatch | null = null;
  private queued = 0;
  /** Bytes of the sealed batches (the open one's are asked for as it grows). */
  private sealedBytes = 0;
  private readonly newBatch: () => PendingBatch;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** The running write loop; at most one batch write is in flight. */
  private inFlight: Promise<void> | null = null;
  private attempts = 0;
  private droppedSinceWarn = 0;
  private lastWarn = 0;
  private totalWritten = 0;
  private totalDropped = 0;

  constructor(
    store: Store,
    private readonly settings: QueueSettings & { maxBytes?: number },
    private readonly metrics: QueueMetrics,
    private readonly logger: Logger,
  ) {
    this.newBatch = store.newBatch ? () => (store.newBatch as () => PendingBatch).call(store) : () => new RecordBatch(store);
    this.timer = setInterval(() => this.tick(), settings.flushIntervalMs);
    this.timer.unref();
  }

  get depth(): number {
    return this.queued;
  }

  get written(): number {
    return this.totalWritten;
  }

  get dropped(): number {
    return this.totalDropped;
  }

  record(ev: ImEvent, verdict: Verdict, detail?: Detail): void {
    if (this.closed || this.depth >= this.settings.queueMax || this.sealedBytes + (this.open?.bytes ?? 0) >= (this.settings.maxBytes ?? QUEUE_MAX_BYTES)) {
      this.drop(1);
      return;
    }
    const b = (this.open ??= this.newBatch());
    try {
      b.add(detail === undefined ? { ev, verdict } : { ev, verdict, detail });
    } catch (err) {
      // An event the store cannot encode (a bug upstream) is dropped, never thrown into the relay.
      this.logger.error({ err: (err as Error).message, event: ev.id }, 'audit event could not be queued');
      this.drop(1, false);
      return;
    }
    this.queued++;
    if (b.count >= this.settings.batchMax || b.full === true) {
      this.seal(b);
      if (this.soon === null && this.inFlight === null) this.soon = setImmediate(() => this.kick());
    }
  }

  /**
   * Writes the batch at the head of the queue; false when there was nothing
   * to write or the write failed. The batch stays queued (counted in depth)
   * until its write settles, so a failed batch is retried in order.
   */
  private async writeOne(): Promise<boolean> {
    const batch = this.sealed[0];
    if (batch === undefined) return false;
    const n = batch.count;
    try {
      await batch.write();
    } catch (err) {
      this.attempts++;
      this.metrics.failed?.(1);
      this.logger.error({ err: (err as Error).message, batch: n, attempt: this.attempts }, 'audit write failed');
      if (this.attempts < MAX_ATTEMPTS) return false;
      this.logger.error({ events: n }, 'audit batch dropped after repeated write failures');
      this.drop(n, false);
    }
    if (this.attempts < MAX_ATTEMPTS) {
      this.totalWritten += n;
      this.metrics.written(n);
    }
    this.attempts = 0;
    this.sealed.shift();
    this.queued -= n;
    this.sealedBytes -= batch.bytes ?? 0;
    return true;
  }

  /**
   * Writes the sealed batches until none is left or a write fails (the
   * timer retries). At most one batch is in flight: batches commit in order
   * and the writer is never handed more than one batch of memory at a time.
   * Events that arrive meanwhile wait for the next tick unless they fill a
   * batch: draining "until empty" would write a sliver of a batch after
   * every commit, and a faster writer would then commit ever smaller
   * batches (measured: twice the writer CPU per event at 2 connections).
   */
  private run(stopOnFailure: boolean): Promise<void> {
    if (this.inFlight !== null) return this.inFlight;
    const p = this.loop(stopOnFailure).finally(() => {
      this.inFlight = null;
      this.metrics.depth(this.depth);
    });
    this.inFlight = p;
    return p;
  }

  private async loop(stopOnFailure: boolean): Promise<void> {
    while (this.sealed.length > 0) {
      if (!(await this.writeOne()) && stopOnFailure) return;
    }
  }

  /** The batch being filled goes into the write order as it is; later events start a new one. */
  private sealOpen(): void {
    if (this.open === null || this.open.count === 0) return;
    this.seal(this.open);
  }

  private seal(b: PendingBatch): void {
    this.sealed.push(b);
    this.sealedBytes += b.bytes ?? 0;
    this.open = null;
  }

  /** Timer: everything queued so far is written (a crash loses at most what arrived since). */
  private tick(): void {
    this.sealOpen();
    this.kick();
  }

  /** Timer and batch-full path. */
  private kick(): void {
    this.soon = null;
    if (this.sealed.length === 0) {
      this.metrics.depth(this.depth);
      return;
    }
    void this.run(true);
  }

  /** Writes everything queued now (shutdown, tests); a failing batch is retried at once, then dropped after MAX_ATTEMPTS. */
  async flush(): Promise<void> {
    // A timer-started run may stop on a failure: wait for it, then retry until empty.
    while (this.inFlight !== null) await this.inFlight;
    while (this.depth > 0) {
      this.sealOpen();
      await this.run(false);
    }
    this.metrics.depth(this.depth);
  }

  /** Stops the timer and writes the rest; later records are dropped (counted). */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.timer = null;
    this.soon = null;
    this.closing = this.flush();
    return this.closing;
  }

  private drop(n: number, warn = true): void {
    this.totalDropped += n;
    this.metrics.dropped(n);
    this.droppedSinceWarn += n;
    const now = Date.now();
    if (warn && now - this.lastWarn >= WARN_EVERY_MS) {
      this.logger.warn(
        { dropped: this.droppedSinceWarn, queueMax: this.settings.queueMax, queuedBytes: this.sealedBytes + (this.open?.bytes ?? 0), closed: this.closed },
        'audit queue full: events not recorded',
      );
      this.lastWarn = now;
      this.droppedSinceWarn = 0;
    }
  }
}
