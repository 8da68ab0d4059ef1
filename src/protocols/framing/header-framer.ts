// Framing of binary protocols whose units are a fixed-size header carrying a
// 16-bit big-endian payload length (OSCAR FLAP, YMSG), as an explicit state
// machine over the chunks of one direction (after ws's lib/receiver.js):
//
//   HEADER --(header in this chunk, unit too)--------> HEADER   (a view, no copy)
//   HEADER --(header here, unit continues)-----------> BODY     (held at exact size)
//   HEADER --(header split: prefix held byte by byte)-> HEADER
//   HEADER --(bad prefix, format resyncs)------------> RESYNC  --(candidate)--> HEADER
//   HEADER --(bad prefix, or unit over the limit)----> FAILED
//   BODY   --(last byte)-----------------------------> HEADER
//
// Units that lie wholly inside one pushed chunk are handed to the sink as
// views of that chunk, and runs of units the sink lets pass are forwarded
// as one slice. Only a unit split across chunks is assembled, in a buffer
// allocated once at its exact size after the size limit passed: nothing is
// buffered before the limit check. The format supplies only its header
// layout and checks and the meaning of its errors (HeaderFormat).

export interface HeaderFormat {
  /** What one unit is called in errors: "FLAP frame", "YMSG packet". */
  readonly unitName: string;
  readonly headerLen: number;
  /** Offset in the header of the uint16 BE payload length (the unit is headerLen + that). */
  readonly lengthOffset: number;
  /** How many leading header bytes prefixOk() can judge; they are checked as each arrives. */
  readonly prefixLen: number;
  /** Whether b[p, p + len) (len <= prefixLen, all present) can start a header. */
  prefixOk(b: Buffer, p: number, len: number): boolean;
  /**
   * What a bad prefix means. A string: the connection fails with that
   * reason (no resynchronisation point). A function: the bytes are passed
   * on unchanged and framing resumes at the next offset >= p of b it
   * returns (b.length when none) where a header could start.
   */
  readonly onBadPrefix: string | ((b: Buffer, p: number) => number);
}

export interface UnitSink {
  /** A complete unit (header + payload): undefined = forward unchanged, null = drop, Buffer = forward instead. */
  unit(unit: Buffer): Buffer | null | undefined;
  /** Forward bytes towards the other end (the relay's out.forward for this side). */
  forward(data: Buffer): void;
  /** Bad framing or too large a unit: the connection must be closed. */
  fail(reason: string): void;
  /** Non-unit bytes were skipped (forwarded as they are) before a plausible header. */
  resync?(skipped: number): void;
}

const enum State {
  Header,
  Body,
  Resync,
  Failed,
}

export class HeaderFramer {
  private state = State.Header;
  private readonly hdr: Buffer;
  private hdrFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private skipped = 0;

  constructor(
    private readonly format: HeaderFormat,
    private readonly maxUnitBytes: number,
    private readonly sink: UnitSink,
  ) {
    this.hdr = Buffer.alloc(format.headerLen);
  }

  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Bytes held so far, for memory accounting in tests. */
  get heldBytes(): number {
    return this.hdrFill + (this.body ? this.body.length : 0);
  }

  push(chunk: Buffer): void {
    const f = this.format;
    const headerLen = f.headerLen;
    let p = 0;
    let passFrom = 0; // start of the run of bytes still to forward unchanged
    const n = chunk.length;
    const flushTo = (end: number): void => {
      if (end > passFrom) this.sink.forward(chunk.subarray(passFrom, end));
      passFrom = end;
    };
    while (p < n && this.state !== State.Failed) {
      if (this.state === State.Resync) {
        const q = (f.onBadPrefix as (b: Buffer, p: number) => number)(chunk, p);
        this.skipped += q - p;
        p = q;
        if (p < n) {
          this.sink.resync?.(this.skipped);
          this.skipped = 0;
          this.state = State.Header;
        }
        continue;
      }
      if (this.state === State.Header) {
        if (this.hdrFill === 0 && n - p >= headerLen) {
          // Fast path: the header is in this chunk.
          if (!f.prefixOk(chunk, p, f.prefixLen)) {
            if (typeof f.onBadPrefix === 'string') return this.failWith(f.onBadPrefix);
            this.state = State.Resync;
            continue;
          }
          const total = headerLen + chunk.readUInt16BE(p + f.lengthOffset);
          if (!this.withinLimit(total)) return;
          if (n - p >= total) {
            const r = this.sink.unit(chunk.subarray(p, p + total));
            if (r !== undefined) {
              flushTo(p);
              if (r !== null) this.sink.forward(r);
              passFrom = p + total;
            }
            p += total;
            continue;
          }
          // Unit continues in later chunks: hold it back from here on.
          flushTo(p);
          this.startBody(chunk.subarray(p, p + headerLen), total);
          p += headerLen;
          passFrom = p;
          continue;
        }
        // Slow path: header split across chunks. The judged prefix is taken
        // byte by byte so that a bad one is caught at its first wrong byte.
        if (this.hdrFill === 0) flushTo(p);
        // A JS loop: for a handful of bytes it beats Buffer#copy's native call.
        const stop = this.hdrFill < f.prefixLen ? p + 1 : Math.min(p + headerLen - this.hdrFill, n);
        const hdr = this.hdr;
        while (p < stop) hdr[this.hdrFill++] = chunk[p++] as number;
        passFrom = p;
        if (this.hdrFill <= f.prefixLen && !f.prefixOk(this.hdr, 0, this.hdrFill)) {
          if (typeof f.onBadPrefix === 'string') return this.failWith(f.onBadPrefix);
          this.unhold();
          continue;
        }
        if (this.hdrFill === headerLen) {
          this.hdrFill = 0;
          const total = headerLen + this.hdr.readUInt16BE(f.lengthOffset);
          if (!this.withinLimit(total)) return;
          this.startBody(this.hdr, total);
          if (total === headerLen) this.finishBody();
        }
        continue;
      }
      // State.Body: copy what belongs to the held unit.
      const body = this.body as Buffer;
      const take = Math.min(body.length - this.bodyFill, n - p);
      chunk.copy(body, this.bodyFill, p, p + take);
      this.bodyFill += take;
      p += take;
      passFrom = p;
      if (this.bodyFill === body.length) this.finishBody();
    }
    if (this.state !== State.Failed) flushTo(p);
  }

  /** FIN from this side: whatever is held (a truncated unit) goes out unchanged. */
  end(): void {
    if (this.state === State.Failed) return;
    if (this.hdrFill > 0) this.sink.forward(Buffer.from(this.hdr.subarray(0, this.hdrFill)));
    if (this.body) this.sink.forward(this.body.subarray(0, this.bodyFill));
    this.hdrFill = 0;
    this.body = null;
    this.bodyFill = 0;
    this.state = State.Header;
  }

  private withinLimit(total: number): boolean {
    if (total <= this.maxUnitBytes) return true;
    this.failWith(`${this.format.unitName} of ${total} bytes exceeds the ${this.maxUnitBytes}-byte limit`);
    return false;
  }

  private failWith(reason: string): void {
    this.state = State.Failed;
    this.hdrFill = 0;
    this.body = null;
    this.sink.fail(reason);
  }

  /** The held header bytes were not a valid start: release them and rescan after the first. */
  private unhold(): void {
    const held = Buffer.from(this.hdr.subarray(0, this.hdrFill));
    this.hdrFill = 0;
    this.sink.forward(held.subarray(0, 1));
    this.skipped += 1;
    this.state = State.Resync;
    // A held later byte may itself start a header (FLAP 0x2A 0x2A 0x02 ...):
    // re-run those bytes through the state machine as if they just arrived.
    if (held.length > 1) this.push(held.subarray(1));
  }

  private startBody(header: Buffer, total: number): void {
    // Allocated once, at its exact size, after withinLimit() passed.
    const unit = Buffer.allocUnsafe(total);
    header.copy(unit, 0, 0, this.format.headerLen);
    this.body = unit;
    this.bodyFill = this.format.headerLen;
    this.state = State.Body;
  }

  private finishBody(): void {
    const unit = this.body as Buffer;
    this.body = null;
    this.bodyFill = 0;
    this.state = State.Header;
    const r = this.sink.unit(unit);
    if (r === undefined) this.sink.forward(unit);
    else if (r !== null) this.sink.forward(r);
  }
}
