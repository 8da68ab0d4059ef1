// Reads an ICAP body up to a limit without ever holding more than the limit
// (plus one chunk). Past the limit it stops reading and leaves the stream
// alone: the ICAP server still holds what was handed out (its replay buffer),
// so an allow verdict can still echo the whole body.
//
// A body that arrives in one chunk is returned as that chunk (no copy). A
// body in several chunks is gathered into one buffer; with a scratch pool
// and a known length it goes into a reused buffer: a fresh 64 KiB
// Buffer.concat per request cost more than the whole JSON scan (new external
// memory, page faults and the GC work it triggers).
import type { Readable } from 'node:stream';

export type BodyRead = { over: false; bytes: Buffer; scratch: boolean } | { over: true; seen: number };

/**
 * A few reusable body buffers. A buffer handed out is the caller's until it
 * gives it back with release(); the caller must not keep any view of it
 * past that (strings decoded from it are copies and are fine).
 */
export class BodyScratch {
  private readonly free: Buffer[] = [];

  constructor(
    /** Largest body a scratch buffer holds; bigger ones get their own buffer. */
    readonly bufferBytes: number,
    /** How many buffers are kept (concurrent reads beyond that allocate). */
    private readonly keep: number,
  ) {}

  acquire(size: number): Buffer | null {
    if (size > this.bufferBytes) return null;
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** Gives back a buffer from acquire (a subarray of it is accepted too). */
  release(buf: Buffer): void {
    if (this.free.length >= this.keep || buf.buffer.byteLength !== this.bufferBytes) return;
    this.free.push(Buffer.from(buf.buffer, 0, this.bufferBytes));
  }
}

/** One read in progress: its listeners are methods, not per-read closures. */
class BoundedRead {
  private first: Buffer | null = null;
  private chunks: Buffer[] | null = null;
  private into: Buffer | null = null;
  private total = 0;
  private readonly onData = (c: Buffer): void => this.data(c);
  private readonly onEnd = (): void => this.end();
  private readonly onError = (err: Error): void => this.fail(err);
  private readonly onClose = (): void => this.fail(new Error('ICAP body closed before its end'));

  constructor(
    private readonly body: Readable,
    private readonly limit: number,
    private readonly expected: number | undefined,
    private readonly scratch: BodyScratch | undefined,
    private readonly resolve: (r: BodyRead) => void,
    private readonly reject: (err: Error) => void,
  ) {
    body.on('data', this.onData);
    body.once('end', this.onEnd);
    body.once('error', this.onError);
    body.once('close', this.onClose);
  }

  private cleanup(): void {
    const b = this.body;
    b.off('data', this.onData);
    b.off('end', this.onEnd);
    b.off('error', this.onError);
    b.off('close', this.onClose);
  }

  private data(c: Buffer): void {
    const at = this.total;
    this.total += c.length;
    if (this.total > this.limit) {
      this.body.pause();
      this.cleanup();
      this.drop();
      this.resolve({ over: true, seen: this.total });
      return;
    }
    if (this.first === null && this.chunks === null && this.into === null) {
      this.first = c;
      return;
    }
    if (this.first !== null) {
      // A second chunk: from here on the body is gathered.
      const first = this.first;
      this.first = null;
      const exp = this.expected;
      const into = exp !== undefined && this.total <= exp && this.scratch !== undefined ? this.scratch.acquire(exp) : null;
      if (into !== null) {
        this.into = into;
        first.copy(into, 0);
      } else this.chunks = [first];
    }
    const into = this.into;
    if (into !== null) {
      if (this.total <= into.length) {
        c.copy(into, at);
        return;
      }
      // More than announced (a lying Content-Length): back to a list; the caller reports the mismatch.
      this.chunks = [Buffer.from(into.subarray(0, at))];
      this.giveBack();
    }
    (this.chunks as Buffer[]).push(c);
  }

  private end(): void {
    this.cleanup();
    if (this.into !== null) {
      this.resolve({ over: false, bytes: this.into.subarray(0, this.total), scratch: true });
      return;
    }
    const bytes = this.first ?? (this.chunks === null ? EMPTY : Buffer.concat(this.chunks, this.total));
    this.first = null;
    this.chunks = null;
    this.resolve({ over: false, bytes, scratch: false });
  }

  private fail(err: Error): void {
    this.cleanup();
    this.drop();
    this.reject(err);
  }

  private drop(): void {
    this.first = null;
    this.chunks = null;
    this.giveBack();
  }

  private giveBack(): void {
    if (this.into !== null) this.scratch?.release(this.into);
    this.into = null;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * `expected`: the declared length, when known (a scratch buffer is used
 * only then). A result with `scratch: true` must go back through
 * scratch.release() once its bytes are no longer needed.
 */
export function readBounded(body: Readable, limit: number, expected?: number, scratch?: BodyScratch): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    new BoundedRead(body, limit, expected, scratch, resolve, reject);
  });
}
