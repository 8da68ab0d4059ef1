// The write path: recordEvent() pushes onto a bounded in-memory queue (O(1),
// never blocks the relay); a timer drains it in batches, one transaction per
// batch, yielding to the event loop between batches because better-sqlite3
// is synchronous. A full queue drops (counted, warned at most every 10 s).
// close() writes everything still queued: a SIGTERM drain loses nothing, a
// crash loses at most what arrived since the last tick.
import type { ImEvent, Verdict } from '../events/types';
import type { Logger } from '../log';
import type { AuditRecord, AuditSink, Detail, Store } from './types';

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
/** A batch that fails this many times in a row is dropped (counted) so one bad row cannot wedge the queue. */
const MAX_ATTEMPTS = 5;

export class AuditQueue implements AuditSink {
  private items: AuditRecord[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  private closed = false;
  private attempts = 0;
  private droppedSinceWarn = 0;
  private lastWarn = 0;
  private totalWritten = 0;
  private totalDropped = 0;

  constructor(
    private readonly store: Store,
    private readonly settings: QueueSettings,
    private readonly metrics: QueueMetrics,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.drainAsync(), settings.flushIntervalMs);
    this.timer.unref();
  }

  get depth(): number {
    return this.items.length - this.head;
  }

  get written(): number {
    return this.totalWritten;
  }

  get dropped(): number {
    return this.totalDropped;
  }

  record(ev: ImEvent, verdict: Verdict, detail?: Detail): void {
    if (this.closed || this.depth >= this.settings.queueMax) {
      this.drop(1);
      return;
    }
    this.items.push(detail === undefined ? { ev, verdict } : { ev, verdict, detail });
    if (this.depth >= this.settings.batchMax && this.soon === null) this.soon = setImmediate(() => this.drainAsync());
  }

  /** Writes one batch; false when there was nothing to write or the write failed. */
  private writeOne(): boolean {
    const n = Math.min(this.depth, this.settings.batchMax);
    if (n === 0) return false;
    const batch = this.items.slice(this.head, this.head + n);
    try {
      this.store.writeBatch(batch);
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
    this.head += n;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 65_536 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  /** Timer / batch-full path: one batch per turn of the event loop until empty. */
  private drainAsync(): void {
    this.soon = null;
    if (this.writeOne() && this.depth > 0 && !this.closed) this.soon = setImmediate(() => this.drainAsync());
    this.metrics.depth(this.depth);
  }

  /** Writes everything queued now, synchronously (shutdown, tests). */
  flush(): void {
    while (this.depth > 0) {
      if (!this.writeOne() && this.depth > 0 && this.attempts === 0) break;
    }
    this.metrics.depth(this.depth);
  }

  /** Stops the timer and writes the rest; later records are dropped (counted). */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.timer = null;
    this.soon = null;
    this.flush();
    this.closed = true;
  }

  private drop(n: number, warn = true): void {
    this.totalDropped += n;
    this.metrics.dropped(n);
    this.droppedSinceWarn += n;
    const now = Date.now();
    if (warn && now - this.lastWarn >= WARN_EVERY_MS) {
      this.logger.warn({ dropped: this.droppedSinceWarn, queueMax: this.settings.queueMax, closed: this.closed }, 'audit queue full: events not recorded');
      this.lastWarn = now;
      this.droppedSinceWarn = 0;
    }
  }
}
