// One direction of a TCP connection: puts segments in sequence order, trims
// retransmissions and overlaps, holds out-of-order segments up to a byte and
// segment cap, and skips over data the capture never had (a "gap") when the
// cap is hit, when the receiver's ACK proves the bytes were sent, or when the
// capture ends. Sequence numbers compare modulo 2^32.

/** a - b as a signed 32-bit distance. */
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
const seqAdd = (a: number, n: number): number => (a + n) >>> 0;

/** Further than this ahead of the expected sequence number: not this stream (garbled or stray). */
export const MAX_SEQ_JUMP = 32 * 1024 * 1024;

export interface HalfStreamSink {
  data(bytes: Buffer): void;
  /** `missing` bytes were never captured; what follows is delivered next. */
  gap(missing: number): void;
  end(): void;
}

export interface HalfStreamLimits {
  maxOooBytes: number;
  maxOooSegments: number;
}

interface Held {
  seq: number;
  data: Buffer;
}

export class HalfStream {
  /** Next expected sequence number; null until the first segment. */
  next: number | null = null;
  private held: Held[] = [];
  private heldBytes = 0;
  private finSeq: number | null = null;
  /** Highest ACK the other side sent for this direction. */
  private peerAck: number | null = null;
  ended = false;
  bytes = 0;
  gaps = 0;
  gapBytes = 0;
  retransmittedBytes = 0;
  outOfWindow = 0;

  constructor(
    private readonly sink: HalfStreamSink,
    private readonly limits: HalfStreamLimits,
  ) {}

  get heldByteCount(): number {
    return this.heldBytes;
  }

  /** A SYN: its sequence number is the ISN; data starts one later. */
  syn(seq: number): void {
    if (this.next === null) this.next = seqAdd(seq, 1);
  }

  segment(seq: number, data: Buffer, fin: boolean): void {
    if (this.ended) return;
    if (this.next === null) this.next = seq;
    if (fin) {
      const f = seqAdd(seq, data.length);
      if (this.finSeq === null || seqDiff(f, this.finSeq) < 0) this.finSeq = f;
    }
    if (data.length > 0) this.insert(seq, data);
    this.tryEnd();
  }

  /** The other side acknowledged up to `ack` in this direction. */
  acked(ack: number): void {
    if (this.ended || this.next === null) return;
    if (this.peerAck !== null && seqDiff(ack, this.peerAck) <= 0) return;
    if (seqDiff(ack, this.next) > MAX_SEQ_JUMP) return; // not a plausible ACK for this stream
    this.peerAck = ack;
    // Held segments the receiver already acknowledged: what precedes them is lost.
    while (this.held.length > 0 && seqDiff((this.held[0] as Held).seq, ack) <= 0) this.skipToHeld();
    this.tryEnd();
  }

  /** Delivers everything held (skipping gaps) and ends the direction. */
  flush(): void {
    if (this.ended) return;
    while (this.held.length > 0) this.skipToHeld();
    this.ended = true;
    this.sink.end();
  }

  private insert(seq: number, data: Buffer): void {
    const next = this.next as number;
    const diff = seqDiff(seq, next);
    if (diff <= 0) {
      if (data.length <= -diff) {
        this.retransmittedBytes += data.length;
        return;
      }
      this.retransmittedBytes += -diff;
      this.deliver(diff === 0 ? data : data.subarray(-diff));
      this.drain();
      return;
    }
    if (diff > MAX_SEQ_JUMP) {
      this.outOfWindow++;
      return;
    }
    if (this.peerAck !== null && seqDiff(seq, this.peerAck) <= 0) {
      // The receiver acknowledged past the hole: it will never be filled.
      this.hold(seq, data);
      this.skipToHeld();
      return;
    }
    this.hold(seq, data);
    while (this.heldBytes > this.limits.maxOooBytes || this.held.length > this.limits.maxOooSegments) this.skipToHeld();
  }

  private hold(seq: number, data: Buffer): void {
    // Copy: the segment is a view into a read chunk that must not stay pinned.
    const h: Held = { seq, data: Buffer.from(data) };
    let i = this.held.length;
    while (i > 0 && seqDiff((this.held[i - 1] as Held).seq, seq) > 0) i--;
    this.held.splice(i, 0, h);
    this.heldBytes += data.length;
  }

  /** Gives up waiting for the hole before the first held segment. */
  private skipToHeld(): void {
    const h = this.held[0] as Held;
    const missing = seqDiff(h.seq, this.next as number);
    if (missing > 0) {
      this.gaps++;
      this.gapBytes += missing;
      this.next = h.seq;
      this.sink.gap(missing);
    }
    this.drain();
  }

  private drain(): void {
    while (this.held.length > 0) {
      const h = this.held[0] as Held;
      const diff = seqDiff(h.seq, this.next as number);
      if (diff > 0) return;
      this.held.shift();
      this.heldBytes -= h.data.length;
      if (h.data.length > -diff) this.deliver(diff === 0 ? h.data : h.data.subarray(-diff));
      else this.retransmittedBytes += h.data.length;
    }
  }

  private deliver(bytes: Buffer): void {
    this.next = seqAdd(this.next as number, bytes.length);
    this.bytes += bytes.length;
    this.sink.data(bytes);
  }

  private tryEnd(): void {
    if (this.ended || this.finSeq === null || this.next === null) return;
    let d = seqDiff(this.finSeq, this.next);
    if (d > 0 && this.held.length === 0 && this.peerAck !== null && seqDiff(this.peerAck, this.finSeq) >= 0) {
      // The FIN was acknowledged, so the bytes before it were sent but not captured.
      this.gaps++;
      this.gapBytes += d;
      this.sink.gap(d);
      this.next = this.finSeq;
      d = 0;
    }
    if (d <= 0) {
      this.ended = true;
      this.sink.end();
    }
  }
}
