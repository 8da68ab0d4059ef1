// multipart/form-data indexed while it streams (a held upload too large to
// parse as one buffer): the byte range, name, file name and type of every
// part, in absolute body offsets, so each attached file can be scanned on its
// own afterwards. An explicit state machine over chunks; the only bytes kept
// are a delimiter's length of carry between chunks and one part head
// (bounded by MAX_PART_HEAD). Errors are recorded, never thrown from push().
import { WebBodyError } from './errors';
import { MAX_PART_HEAD, parsePartHead, type Part } from './multipart';

const enum S {
  /** Looking for "\r\n--boundary" (preamble, or the end of a part's content). */
  Search,
  /** Right after a delimiter: "--" closes, padding then CRLF opens a part. */
  After,
  AfterDash,
  AfterCr,
  /** Part head bytes until the blank line. */
  Head,
  Done,
  Failed,
}

const EMPTY = Buffer.alloc(0);

export class MultipartIndexer {
  readonly parts: Part[] = [];
  private state = S.Search;
  private error: WebBodyError | null = null;
  private readonly needle: Buffer;
  /** Last bytes of the previous chunk while searching (a delimiter may straddle chunks). */
  private tail: Buffer;
  private tailAbs: number;
  private head: Buffer[] = [];
  private headLen = 0;
  /** How much of "\r\n\r\n" the head has just seen (starts at 2: the delimiter's CRLF). */
  private crlf = 2;
  private cur: Part | null = null;

  constructor(
    boundary: string,
    private readonly maxParts: number,
  ) {
    this.needle = Buffer.from(`\r\n--${boundary}`, 'latin1');
    // The first delimiter may open the body without a CRLF before it: pretend one.
    this.tail = Buffer.from('\r\n', 'latin1');
    this.tailAbs = -2;
  }

  private fail(msg: string): void {
    this.state = S.Failed;
    this.error = new WebBodyError('multipart', msg);
    this.tail = EMPTY;
    this.head = [];
  }

  /** Feeds the next chunk; `offset` is its first byte's position in the body. */
  push(chunk: Buffer, offset: number): void {
    // Virtual buffer V = tail ++ chunk; v indexes it, abs(v) is the body offset.
    const tail = this.tail;
    const tl = tail.length;
    const vlen = tl + chunk.length;
    const abs = (v: number): number => (v < tl ? this.tailAbs + v : offset + (v - tl));
    const at = (v: number): number => (v < tl ? (tail[v] as number) : (chunk[v - tl] as number));
    this.tail = EMPTY;
    let v = 0;
    while (v < vlen) {
      switch (this.state) {
        case S.Done:
        case S.Failed:
          return;
        case S.Search: {
          const idx = this.find(tail, chunk, v);
          if (idx < 0) {
            // Keep just enough to catch a delimiter that starts in this chunk.
            const keep = Math.max(v, vlen - (this.needle.length - 1));
            this.tail = Buffer.concat([tail.subarray(Math.min(keep, tl)), chunk.subarray(Math.max(0, keep - tl))]);
            this.tailAbs = abs(keep);
            return;
          }
          if (this.cur !== null) {
            this.cur.end = abs(idx);
            this.parts.push(this.cur);
            this.cur = null;
          }
          v = idx + this.needle.length;
          this.state = S.After;
          break;
        }
        case S.After: {
          const b = at(v++);
          if (b === 0x2d) this.state = S.AfterDash;
          else if (b === 0x0d) this.state = S.AfterCr;
          else if (b !== 0x20 && b !== 0x09) return this.fail(`bad delimiter line at byte ${abs(v - 1)}`);
          break;
        }
        case S.AfterDash:
          if (at(v++) !== 0x2d) return this.fail(`bad delimiter line at byte ${abs(v - 1)}`);
          this.state = S.Done;
          return;
        case S.AfterCr:
          if (at(v++) !== 0x0a) return this.fail(`bad delimiter line at byte ${abs(v - 1)}`);
          if (this.parts.length >= this.maxParts) return this.fail(`more than ${this.maxParts} parts`);
          this.state = S.Head;
          this.crlf = 2;
          this.head = [];
          this.headLen = 0;
          break;
        case S.Head: {
          const start = v;
          while (v < vlen && this.crlf < 4) {
            const b = at(v++);
            this.crlf = b === 0x0d ? (this.crlf === 2 ? 3 : 1) : b === 0x0a && (this.crlf === 1 || this.crlf === 3) ? this.crlf + 1 : 0;
          }
          if (this.headLen + (v - start) > MAX_PART_HEAD + 4) return this.fail(`part head longer than ${MAX_PART_HEAD} bytes at byte ${abs(start)}`);
          // Head bytes are copied: the chunk they came from is not retained.
          for (const piece of this.slices(tail, chunk, start, v)) this.head.push(Buffer.from(piece));
          this.headLen += v - start;
          if (this.crlf < 4) break;
          const text = Buffer.concat(this.head, this.headLen).toString('utf8');
          this.head = [];
          // Drop the blank line; an empty head is just the CRLF.
          const lines = text.length <= 2 ? '' : text.slice(0, -4);
          const part: Part = { start: abs(v), end: abs(v) };
          try {
            if (lines !== '') Object.assign(part, parsePartHead(lines));
          } catch (err) {
            return this.fail(err instanceof Error ? err.message : String(err));
          }
          this.cur = part;
          this.state = S.Search;
          break;
        }
      }
    }
  }

  /** The parts, or the reason the body is not well-formed multipart. */
  finish(): Part[] | WebBodyError {
    if (this.error !== null) return this.error;
    if (this.state !== S.Done) return new WebBodyError('multipart', this.parts.length === 0 && this.cur === null ? 'no opening boundary' : 'no closing boundary');
    return this.parts;
  }

  private *slices(tail: Buffer, chunk: Buffer, from: number, to: number): Generator<Buffer> {
    const tl = tail.length;
    if (from < tl) yield tail.subarray(from, Math.min(to, tl));
    if (to > tl) yield chunk.subarray(Math.max(0, from - tl), to - tl);
  }

  /** Index in V of the needle at or after v, or -1. */
  private find(tail: Buffer, chunk: Buffer, v: number): number {
    const tl = tail.length;
    const n = this.needle;
    if (v < tl) {
      // A match starting inside the tail: search the small joint only.
      const joint = Buffer.concat([tail.subarray(v), chunk.subarray(0, n.length - 1)]);
      const j = joint.indexOf(n);
      if (j >= 0 && v + j < tl) return v + j;
    }
    const k = chunk.indexOf(n, Math.max(0, v - tl));
    return k < 0 ? -1 : tl + k;
  }
}
