// Reads one HTTP head (start line + header fields + blank line) out of
// buffered chunks, then parses it with the ICAP server's header-block parser
// (icap/http-head.ts), so tunnels and ICAP read HTTP heads the same way.
// Line and head size limits are checked before a byte is kept. Leading empty
// lines before a request line (RFC 9112 §2.2) are kept with the head.
import { parseHttpHead, type ParsedHttpHead } from '../../../icap/http-head';

export interface HeadLimits {
  /** Longest start or header line, CRLF included. */
  maxLine: number;
  /** Longest head, blank line included. */
  maxHead: number;
  maxHeaders: number;
}

export interface HeadDone {
  /** Index in the pushed chunk just after the head. */
  end: number;
  /** The head's exact bytes. */
  raw: Buffer;
  head: ParsedHttpHead;
}

/** A bare CR or LF would let the two ends see different header lines. */
const BARE_EOL = /\r(?!\n)|(?<!\r)\n/;

export class HeadReader {
  private parts: Buffer[] = [];
  private len = 0;
  private lineLen = 0;
  /** Bytes of leading empty lines. */
  private lead = 0;
  /** Non-empty lines read so far. */
  private lines = 0;

  constructor(
    private readonly limits: HeadLimits,
    private readonly what: string,
  ) {}

  /** Bytes held of an unfinished head. */
  get pending(): number {
    return this.len;
  }

  /** Held bytes, handed back (the stream stopped being HTTP). */
  take(): Buffer {
    const b = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.reset();
    return b;
  }

  private reset(): void {
    this.parts = [];
    this.len = this.lineLen = this.lead = this.lines = 0;
  }

  /**
   * Reads from chunk[at]. Returns the finished head, null when the chunk was
   * consumed without finishing it, or an error text (nothing more to read).
   */
  push(chunk: Buffer, at: number): HeadDone | null | string {
    let i = at;
    const n = chunk.length;
    const from = at;
    while (i < n) {
      const nl = chunk.indexOf(0x0a, i);
      const stop = nl < 0 ? n : nl + 1;
      const seg = stop - i;
      if (this.lineLen + seg > this.limits.maxLine) return `${this.what} line longer than ${this.limits.maxLine} bytes`;
      if (this.len + (stop - from) > this.limits.maxHead) return `${this.what} head longer than ${this.limits.maxHead} bytes`;
      this.lineLen += seg;
      i = stop;
      if (nl < 0) break;
      const lineLen = this.lineLen;
      this.lineLen = 0;
      if (lineLen > 2) {
        this.lines++;
        continue;
      }
      if (this.lines > 0) return this.finish(chunk, from, i);
      // an empty line before the start line
      this.lead += lineLen;
      if (this.lead > 8) return `${this.what}: too many empty lines before the start line`;
    }
    if (i > from) {
      this.parts.push(chunk.subarray(from, i));
      this.len += i - from;
    }
    return null;
  }

  private finish(chunk: Buffer, from: number, end: number): HeadDone | string {
    let raw: Buffer;
    if (this.parts.length === 0) raw = chunk.subarray(from, end);
    else {
      this.parts.push(chunk.subarray(from, end));
      raw = Buffer.concat(this.parts);
    }
    const lead = this.lead;
    this.reset();
    const text = raw.toString('latin1', lead);
    if (BARE_EOL.test(text) || !text.endsWith('\r\n\r\n')) return `${this.what}: bare CR or LF in head`;
    try {
      const head = parseHttpHead(text, { maxLineBytes: this.limits.maxLine, maxHeaderCount: this.limits.maxHeaders }, this.what);
      return { end, raw, head };
    } catch (err) {
      return (err as Error).message;
    }
  }
}
