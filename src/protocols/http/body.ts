// Reads one HTTP message body by its framing (RFC 9112 §6): a fixed
// Content-Length, chunked transfer coding (size lines, data, CRLFs, trailer
// fields), or everything until the connection closes. An explicit state
// machine over chunks: it reports where the body ends in the chunk and hands
// the decoded data out as slices (no copy). Chunk-size lines and trailers are
// bounded; a chunk larger than `maxChunk` is refused before it is read.

export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export interface BodyStep {
  /** Index in the chunk just after the body bytes consumed. */
  end: number;
  done: boolean;
}

const enum C {
  Size, // reading the chunk-size line
  Data,
  DataCr,
  DataLf,
  Trailer, // reading trailer lines (or the final CRLF)
}

const MAX_SIZE_LINE = 1024;
const MAX_TRAILER = 8192;

export class BodyReader {
  private remaining = 0;
  private chunked = C.Size;
  private lineLen = 0;
  private lineHex = 0;
  private sizeDigits = 0;
  private sizeEnded = false;
  private trailerLen = 0;
  private trailerLine = 0;
  private framing: Framing = { kind: 'none' };
  private lastWasCr = false;

  /** Largest chunk (or Content-Length) accepted for the current body. */
  private maxChunk = Number.MAX_SAFE_INTEGER;

  /** Starts a body; an error text if the framing itself is out of bounds. */
  start(f: Framing, maxChunk: number): string | null {
    this.framing = f;
    this.maxChunk = maxChunk;
    if (f.kind === 'length') {
      if (f.length > this.maxChunk) return `body of ${f.length} bytes exceeds ${this.maxChunk}`;
      this.remaining = f.length;
    } else if (f.kind === 'chunked') {
      this.chunked = C.Size;
      this.resetSize();
      this.trailerLen = this.trailerLine = 0;
    }
    return null;
  }

  get kind(): Framing['kind'] {
    return this.framing.kind;
  }

  private resetSize(): void {
    this.lineLen = this.lineHex = this.sizeDigits = 0;
    this.sizeEnded = false;
  }

  /** Consumes body bytes from chunk[at]; `data` gets the decoded slices. Error text on bad framing. */
  push(chunk: Buffer, at: number, data: (slice: Buffer) => void): BodyStep | string {
    const f = this.framing;
    const n = chunk.length;
    if (f.kind === 'none') return { end: at, done: true };
    if (f.kind === 'close') {
      if (n > at) data(chunk.subarray(at));
      return { end: n, done: false };
    }
    if (f.kind === 'length') {
      const take = Math.min(this.remaining, n - at);
      if (take > 0) data(chunk.subarray(at, at + take));
      this.remaining -= take;
      return { end: at + take, done: this.remaining === 0 };
    }
    return this.pushChunked(chunk, at, data);
  }

  private pushChunked(chunk: Buffer, at: number, data: (slice: Buffer) => void): BodyStep | string {
    let i = at;
    const n = chunk.length;
    while (i < n) {
      const c = chunk[i] as number;
      switch (this.chunked) {
        case C.Size: {
          i++;
          if (++this.lineLen > MAX_SIZE_LINE) return 'chunk-size line too long';
          if (c === 0x0a) {
            if (!this.lastWasCr) return 'bare LF in chunk-size line';
            if (this.sizeDigits === 0) return 'chunk-size line without a size';
            const size = this.lineHex;
            this.resetSize();
            this.lastWasCr = false;
            if (size === 0) {
              this.chunked = C.Trailer;
              this.trailerLine = 0;
            } else {
              this.remaining = size;
              this.chunked = C.Data;
            }
          } else if (!this.sizeEnded && isHex(c)) {
            if (++this.sizeDigits > 13) return 'chunk size too large';
            this.lineHex = this.lineHex * 16 + hexVal(c);
            if (this.lineHex > this.maxChunk) return `chunk of ${this.lineHex}+ bytes exceeds ${this.maxChunk}`;
          } else if (c === 0x0d) {
            this.sizeEnded = true;
          } else {
            // chunk extensions (";name=value") and whitespace: read, ignored
            if (this.sizeDigits === 0) return 'invalid chunk size';
            this.sizeEnded = true;
          }
          if (this.chunked === C.Size) this.lastWasCr = c === 0x0d;
          break;
        }
        case C.Data: {
          const take = Math.min(this.remaining, n - i);
          data(chunk.subarray(i, i + take));
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.chunked = C.DataCr;
          break;
        }
        case C.DataCr:
          if (c !== 0x0d) return 'chunk data not followed by CRLF';
          i++;
          this.chunked = C.DataLf;
          break;
        case C.DataLf:
          if (c !== 0x0a) return 'chunk data not followed by CRLF';
          i++;
          this.chunked = C.Size;
          break;
        case C.Trailer:
          i++;
          if (++this.trailerLen > MAX_TRAILER) return 'chunked trailer too long';
          if (c === 0x0a) {
            if (!this.lastWasCr) return 'bare LF in chunked trailer';
            const empty = this.trailerLine === 1; // just the CR
            this.trailerLine = 0;
            this.lastWasCr = false;
            if (empty) return { end: i, done: true };
          } else {
            this.trailerLine++;
            this.lastWasCr = c === 0x0d;
          }
          break;
      }
    }
    return { end: n, done: false };
  }

}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexVal(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}
