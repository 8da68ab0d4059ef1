// FLAP framing as an explicit state machine, one instance per direction.
// FLAP header (wiki.nina.chat/wiki/Protocols/OSCAR/FLAP; Wireshark
// epan/dissectors/packet-aim.c dissect_aim_pdu):
//   uint8 0x2A, uint8 frame type (channel 1..5), uint16 sequence, uint16 length
// followed by `length` bytes of payload.
//
// Frames that lie wholly inside one pushed chunk are handed to the sink as
// views of that chunk (no copy), and runs of frames the sink lets pass are
// forwarded as one slice. Only a frame split across chunks is assembled in
// a buffer, allocated once at its exact size after the size limit passed.
//
// After a gap (a capture that lost segments) or other non-FLAP bytes the
// framer resynchronises on the next plausible header instead of closing:
// the bytes it skips are forwarded unchanged, so the byte stream stays
// transparent, and a real server would reject them exactly as it would
// without the gateway.

export const FLAP_START = 0x2a;
export const FLAP_HEADER_LEN = 6;

export const isFlapChannel = (c: number): boolean => c >= 1 && c <= 5;

export interface FlapSink {
  /**
   * A complete frame (header + payload). Return undefined to forward it
   * unchanged, null to drop it, or a Buffer to forward instead.
   */
  frame(frame: Buffer): Buffer | null | undefined;
  /** Forward bytes towards the other end (the relay's out.forward for this side). */
  forward(data: Buffer): void;
  /** Too large a frame: the connection must be closed. */
  fail(reason: string): void;
  /** Non-FLAP bytes were skipped (forwarded as they are) before a plausible header. */
  resync(skipped: number): void;
}

const enum State {
  Header,
  Body,
  Resync,
  Failed,
}

export class FlapFramer {
  private state = State.Header;
  private readonly hdr = Buffer.alloc(FLAP_HEADER_LEN);
  private hdrFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private skipped = 0;

  constructor(
    private readonly maxUnitBytes: number,
    private readonly sink: FlapSink,
  ) {}

  get failed(): boolean {
    return this.state === State.Failed;
  }

  push(chunk: Buffer): void {
    let p = 0;
    let passFrom = 0; // start of the run of bytes still to forward unchanged
    const n = chunk.length;
    const flushTo = (end: number): void => {
      if (end > passFrom) this.sink.forward(chunk.subarray(passFrom, end));
      passFrom = end;
    };
    while (p < n && this.state !== State.Failed) {
      if (this.state === State.Resync) {
        const q = this.findCandidate(chunk, p);
        this.skipped += q - p;
        p = q;
        if (p < n) {
          this.sink.resync(this.skipped);
          this.skipped = 0;
          this.state = State.Header;
        }
        continue;
      }
      if (this.state === State.Header) {
        if (this.hdrFill === 0 && n - p >= FLAP_HEADER_LEN) {
          // Fast path: the header is in this chunk.
          if (!this.plausible(chunk, p)) {
            this.state = State.Resync;
            continue;
          }
          const len = chunk.readUInt16BE(p + 4);
          if (!this.withinLimit(len)) return;
          const total = FLAP_HEADER_LEN + len;
          if (n - p >= total) {
            const frame = chunk.subarray(p, p + total);
            const r = this.sink.frame(frame);
            if (r !== undefined) {
              flushTo(p);
              if (r !== null) this.sink.forward(r);
              passFrom = p + total;
            }
            p += total;
            continue;
          }
          // Frame continues in later chunks: hold it back from here on.
          flushTo(p);
          this.startBody(chunk.subarray(p, p + FLAP_HEADER_LEN), len);
          p += FLAP_HEADER_LEN;
          passFrom = p;
          continue;
        }
        // Slow path: header split across chunks, collected byte by byte.
        if (this.hdrFill === 0) flushTo(p);
        this.hdr[this.hdrFill++] = chunk[p++] as number;
        passFrom = p;
        if (this.hdrFill === 1 && this.hdr[0] !== FLAP_START) {
          this.unhold();
          continue;
        }
        if (this.hdrFill === 2 && !isFlapChannel(this.hdr[1] as number)) {
          this.unhold();
          continue;
        }
        if (this.hdrFill === FLAP_HEADER_LEN) {
          const len = this.hdr.readUInt16BE(4);
          this.hdrFill = 0;
          if (!this.withinLimit(len)) return;
          this.startBody(this.hdr, len);
          if (len === 0) this.finishBody();
        }
        continue;
      }
      // State.Body: copy what belongs to the held frame.
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

  /** FIN from this side: whatever is held (a truncated frame) goes out unchanged. */
  end(): void {
    if (this.state === State.Failed) return;
    if (this.hdrFill > 0) this.sink.forward(Buffer.from(this.hdr.subarray(0, this.hdrFill)));
    if (this.body) this.sink.forward(this.body.subarray(0, this.bodyFill));
    this.hdrFill = 0;
    this.body = null;
    this.bodyFill = 0;
    this.state = State.Header;
  }

  /** Bytes held so far, for memory accounting in tests. */
  get heldBytes(): number {
    return this.hdrFill + (this.body ? this.body.length : 0);
  }

  private withinLimit(len: number): boolean {
    if (FLAP_HEADER_LEN + len <= this.maxUnitBytes) return true;
    this.state = State.Failed;
    this.sink.fail(`FLAP frame of ${FLAP_HEADER_LEN + len} bytes exceeds the ${this.maxUnitBytes}-byte limit`);
    return false;
  }

  private plausible(b: Buffer, p: number): boolean {
    return b[p] === FLAP_START && isFlapChannel(b[p + 1] as number);
  }

  /** Next offset >= p where a header could start (0x2A then a channel byte, or 0x2A at the end). */
  private findCandidate(b: Buffer, p: number): number {
    let q = b.indexOf(FLAP_START, p);
    while (q !== -1) {
      if (q + 1 >= b.length || isFlapChannel(b[q + 1] as number)) return q;
      q = b.indexOf(FLAP_START, q + 1);
    }
    return b.length;
  }

  /** The held header bytes were not a FLAP start: release them and rescan after the first. */
  private unhold(): void {
    const held = Buffer.from(this.hdr.subarray(0, this.hdrFill));
    this.hdrFill = 0;
    this.sink.forward(held.subarray(0, 1));
    this.skipped += 1;
    this.state = State.Resync;
    // A held second byte may itself start a header (0x2A 0x2A 0x02 ...):
    // re-run that one byte through the state machine as if it just arrived.
    if (held.length > 1) this.push(held.subarray(1));
  }

  private startBody(header: Buffer, len: number): void {
    // Allocated once, at its exact size, after withinLimit() passed.
    const frame = Buffer.allocUnsafe(FLAP_HEADER_LEN + len);
    header.copy(frame, 0, 0, FLAP_HEADER_LEN);
    this.body = frame;
    this.bodyFill = FLAP_HEADER_LEN;
    this.state = State.Body;
  }

  private finishBody(): void {
    const frame = this.body as Buffer;
    this.body = null;
    this.bodyFill = 0;
    this.state = State.Header;
    const r = this.sink.frame(frame);
    if (r === undefined) this.sink.forward(frame);
    else if (r !== null) this.sink.forward(r);
  }
}
