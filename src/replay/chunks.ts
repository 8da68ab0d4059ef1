// A queue of file chunks the capture readers consume from (after ws's
// receiver): bytes are only copied when one record spans two chunks, and the
// queue never holds more than one record plus one read chunk, because the
// readers check a record's declared length against their limit before they
// wait for its bytes.
export class ChunkQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes queued. */
  length = 0;
  /** File offset of the first queued byte. */
  offset = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next n bytes (n <= length) as one buffer, without consuming them. */
  peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let pos = this.head;
    for (const c of this.chunks) {
      const take = Math.min(c.length - pos, n - filled);
      c.copy(out, filled, pos, pos + take);
      filled += take;
      pos = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** Drops the next n bytes (n <= length). */
  skip(n: number): void {
    this.length -= n;
    this.offset += n;
    while (n > 0) {
      const first = this.chunks[0] as Buffer;
      const avail = first.length - this.head;
      if (n < avail) {
        this.head += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Consumes and returns the next n bytes. */
  take(n: number): Buffer {
    const b = this.peek(n);
    this.skip(n);
    return b;
  }

  clear(): void {
    this.offset += this.length;
    this.chunks = [];
    this.head = 0;
    this.length = 0;
  }
}
