// The form a batch of events takes on its way to the SQLite writer: each
// event encoded as it is recorded into one growing SharedArrayBuffer, the 25
// column values of its events row in INSERT order (a tag byte, then a u32
// length and UTF-8 bytes, or a float64). Why bytes and not the event objects:
// a queued event lives until its batch commits (100-200 ms under load), long
// enough to survive young-generation collections and be copied into the old
// generation, and that garbage collection was most of what recording cost the
// gateway's own threads; encoded, the event dies young and the bytes sit off
// the JS heap. Shared, not transferred: postMessage hands the writer thread
// the same memory without a copy, and the queue still holds it to write the
// batch again if the thread dies mid-batch. Encoding must stay cheap (it runs
// on the event loop): the context fields of consecutive events are mostly
// the same strings (run, door, protocol, app, account, URL, rule...), so a
// value equal to the previous row's is one REPEAT byte and is not decoded
// again; the id, time, text and detail are always written out.
import type { AuditRecord } from './types';

/** Buffer's own encode/decode entry points, without Buffer#write/toString's argument handling (hot path). */
interface RawBuffer {
  utf8Write(s: string, offset: number, length: number): number;
  utf8Slice(start: number, end: number): string;
}

/** A column value; Uint8Array: UTF-8 bytes of a text the writer binds as they are (decodeRows' `rawFields`). */
export type Param = string | number | Uint8Array | null;
/** One decoded events row, values in INSERT order (see sqlite-write.ts). */
export type WireRow = Param[];

/** A sealed batch as it crosses to the writer (structured clone shares `bytes`). */
export interface WireBatch {
  bytes: Uint8Array;
  count: number;
}

export const WIRE_FIELDS = 25;
const NULL = 0;
const STR = 1;
const NUM = 2;
/** The same value as this field of the previous row. */
const REPEAT = 3;
const MIN_CAPACITY = 16 * 1024;
/**
 * A batch is full past this many bytes whatever its event count, and every
 * batch starts with this much room (plus a message's worth), so the store
 * reuses the same few buffers. Unbounded, 1000 web IM events of 64 KiB made
 * a 64 MiB buffer per batch, grown by doubling and copying, in fresh memory
 * the kernel faulted in and zeroed on the event loop. Measured on a gateway
 * under 64 KiB web IM load: the main thread's CPU over a store-off gateway
 * went from about 60 to about 30 us per request with 4 MiB batches and the
 * queue's byte bound (queue.ts); 64 events of 64 KiB per transaction cost
 * the writer no more per event than 1000.
 */
export const BATCH_BYTES = 4 * 1024 * 1024;
/** Field positions whose value is always written out (they differ from row to row, or are long). */
const F_ID = 0;
export const F_TEXT = 14;
const F_DETAIL = 24;
const NEVER_REPEAT = (1 << F_ID) | (1 << F_TEXT) | (1 << F_DETAIL);
/** No value: the first row of a batch never repeats. */
const NONE = Symbol('none');

export class WireBuilder {
  private buf: Buffer;
  private pos = 0;
  private n = 0;
  /** The previous row's values, by field. */
  private readonly prev: Array<string | typeof NONE> = new Array<string | typeof NONE>(WIRE_FIELDS).fill(NONE);

  /**
   * `space`: memory to start with, a SharedArrayBuffer a committed batch no
   * longer needs (the store reuses them: a fresh one costs the kernel a page
   * fault per 4 KiB on first touch), or a size to allocate.
   */
  constructor(
    private readonly run: string,
    space: SharedArrayBuffer | number = MIN_CAPACITY,
  ) {
    this.buf = Buffer.from(typeof space === 'number' ? new SharedArrayBuffer(Math.max(MIN_CAPACITY, space)) : space);
  }

  /** The memory the batch is encoded in (to reuse once the batch is committed). */
  get space(): SharedArrayBuffer {
    return this.buf.buffer as SharedArrayBuffer;
  }

  get count(): number {
    return this.n;
  }

  get bytes(): number {
    return this.pos;
  }

  /** At or past BATCH_BYTES: the queue seals the batch (one larger event still fits: room() grows the buffer). */
  get full(): boolean {
    return this.pos >= BATCH_BYTES;
  }

  /** Appends one event; all or nothing (a value that cannot be encoded leaves the batch as it was, and throws). */
  add(r: AuditRecord): void {
    const start = this.pos;
    try {
      const { ev, verdict, detail } = r;
      const f = ev.file;
      this.str(0, ev.id);
      this.num(ev.time);
      this.str(2, this.run);
      this.str(3, ev.conn);
      this.str(4, ev.door);
      this.str(5, ev.clientIp);
      this.str(6, ev.user);
      this.str(7, ev.groups.length ? JSON.stringify(ev.groups) : null);
      this.str(8, ev.protocol);
      this.str(9, ev.app);
      this.str(10, ev.direction);
      this.str(11, ev.account);
      this.str(12, ev.peer);
      this.str(13, ev.kind);
      this.str(F_TEXT, ev.text);
      this.str(15, f?.name);
      this.num(f?.size);
      this.str(17, f?.sha256);
      this.str(18, ev.url);
      this.str(19, ev.host);
      this.str(20, ev.method);
      this.str(21, ev.destination ? `${ev.destination.host}:${ev.destination.port}` : null);
      this.str(22, verdict.action);
      this.str(23, verdict.rule);
      this.str(F_DETAIL, detail && Object.keys(detail).length ? JSON.stringify(detail) : null);
    } catch (err) {
      // The repeat memory may now name values of the unwritten row: forget it.
      this.pos = start;
      this.prev.fill(NONE);
      throw err;
    }
    this.n++;
  }

  seal(): WireBatch {
    return { bytes: new Uint8Array(this.buf.buffer, 0, this.pos), count: this.n };
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.from(new SharedArrayBuffer(Math.max(this.buf.length * 2, this.pos + n)));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private str(field: number, v: string | null | undefined): void {
    if (v === null || v === undefined) {
      this.room(1);
      this.buf[this.pos++] = NULL;
      this.prev[field] = NONE;
      return;
    }
    const s = typeof v === 'string' ? v : String(v);
    if (s === this.prev[field]) {
      this.room(1);
      this.buf[this.pos++] = REPEAT;
      return;
    }
    if (((NEVER_REPEAT >> field) & 1) === 0) this.prev[field] = s;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: the exact length is
    // computed only when that bound does not fit.
    if (this.pos + 5 + s.length * 3 > this.buf.length) this.room(5 + Buffer.byteLength(s, 'utf8'));
    const at = this.pos + 5;
    const n = (this.buf as unknown as RawBuffer).utf8Write(s, at, this.buf.length - at);
    this.buf[this.pos] = STR;
    this.buf.writeUInt32LE(n, this.pos + 1);
    this.pos = at + n;
  }

  private num(v: number | null | undefined): void {
    if (v === null || v === undefined) {
      this.room(1);
      this.buf[this.pos++] = NULL;
      return;
    }
    this.room(9);
    this.buf[this.pos] = NUM;
    this.buf.writeDoubleLE(v, this.pos + 1);
    this.pos += 9;
  }
}

/**
 * Calls `each` with every row of the batch, in order; the row array is reused
 * between calls. Fields in the `rawFields` bit mask come as views of their
 * UTF-8 bytes in the batch (valid during the call): a 1-64 KiB message text
 * is then never turned into a JS string only to be encoded back to UTF-8
 * when SQLite binds it.
 */
export function decodeRows(batch: WireBatch, each: (row: WireRow) => void, rawFields = 0): void {
  const b = batch.bytes;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const raw = buf as unknown as RawBuffer;
  const row: WireRow = new Array<Param>(WIRE_FIELDS).fill(null);
  let p = 0;
  for (let i = 0; i < batch.count; i++) {
    for (let f = 0; f < WIRE_FIELDS; f++) {
      const tag = buf[p++];
      // REPEAT: row[f] still holds the previous row's value.
      if (tag === REPEAT) continue;
      if (tag === NULL) row[f] = null;
      else if (tag === NUM) {
        row[f] = buf.readDoubleLE(p);
        p += 8;
      } else if (tag === STR) {
        const n = buf.readUInt32LE(p);
        row[f] = ((rawFields >> f) & 1) === 0 ? raw.utf8Slice(p + 4, p + 4 + n) : buf.subarray(p + 4, p + 4 + n);
        p += 4 + n;
      } else throw new Error(`audit batch: bad field tag ${String(tag)} at byte ${p - 1} (row ${i})`);
    }
    each(row);
  }
  if (p !== buf.length) throw new Error(`audit batch: ${buf.length - p} bytes left after ${batch.count} rows`);
}
