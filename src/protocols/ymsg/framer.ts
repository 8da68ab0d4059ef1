// YMSG framing as an explicit state machine, one per direction: collect the
// 20-byte header, check the magic and the size limit, then take exactly
// `payloadLength` bytes. Packets wholly inside a chunk are handed over as
// views of it and runs of passed packets are forwarded as one slice; only a
// packet split across chunks is assembled, in a buffer of its exact size.
// YMSG has no resynchronisation point other than the magic and no sequence
// numbers, so bytes that are not YMSG end the connection.
import { YMSG_HEADER_LEN, YMSG_MAGIC } from './packet';

export interface YmsgSink {
  /** A complete packet: undefined = forward unchanged, null = drop, Buffer = forward instead. */
  packet(packet: Buffer): Buffer | null | undefined;
  forward(data: Buffer): void;
  fail(reason: string): void;
}

const enum State {
  Header,
  Body,
  Failed,
}

export class YmsgFramer {
  private state = State.Header;
  private readonly hdr = Buffer.alloc(YMSG_HEADER_LEN);
  private hdrFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;

  constructor(
    private readonly maxUnitBytes: number,
    private readonly sink: YmsgSink,
  ) {}

  get heldBytes(): number {
    return this.hdrFill + (this.body ? this.body.length : 0);
  }

  push(chunk: Buffer): void {
    let p = 0;
    let passFrom = 0;
    const n = chunk.length;
    const flushTo = (end: number): void => {
      if (end > passFrom) this.sink.forward(chunk.subarray(passFrom, end));
      passFrom = end;
    };
    while (p < n && this.state !== State.Failed) {
      if (this.state === State.Header) {
        if (this.hdrFill === 0 && n - p >= YMSG_HEADER_LEN) {
          const total = this.checkHeader(chunk, p);
          if (total < 0) return;
          if (n - p >= total) {
            const r = this.sink.packet(chunk.subarray(p, p + total));
            if (r !== undefined) {
              flushTo(p);
              if (r !== null) this.sink.forward(r);
              passFrom = p + total;
            }
            p += total;
            continue;
          }
          flushTo(p);
          this.startBody(chunk.subarray(p, p + YMSG_HEADER_LEN), total);
          p += YMSG_HEADER_LEN;
          passFrom = p;
          continue;
        }
        if (this.hdrFill === 0) flushTo(p);
        const take = Math.min(YMSG_HEADER_LEN - this.hdrFill, n - p);
        chunk.copy(this.hdr, this.hdrFill, p, p + take);
        this.hdrFill += take;
        p += take;
        passFrom = p;
        // Reject a wrong magic as soon as its bytes are in, not after 20.
        const m = Math.min(this.hdrFill, 4);
        if (!this.hdr.subarray(0, m).equals(YMSG_MAGIC.subarray(0, m))) {
          this.failWith('not a YMSG packet (bad magic)');
          return;
        }
        if (this.hdrFill === YMSG_HEADER_LEN) {
          this.hdrFill = 0;
          const total = this.checkHeader(this.hdr, 0);
          if (total < 0) return;
          this.startBody(this.hdr, total);
          if (total === YMSG_HEADER_LEN) this.finishBody();
        }
        continue;
      }
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

  end(): void {
    if (this.state === State.Failed) return;
    if (this.hdrFill > 0) this.sink.forward(Buffer.from(this.hdr.subarray(0, this.hdrFill)));
    if (this.body) this.sink.forward(this.body.subarray(0, this.bodyFill));
    this.hdrFill = 0;
    this.body = null;
    this.bodyFill = 0;
  }

  /** Total packet size, or -1 after failing. */
  private checkHeader(b: Buffer, p: number): number {
    if (!b.subarray(p, p + 4).equals(YMSG_MAGIC)) {
      this.failWith('not a YMSG packet (bad magic)');
      return -1;
    }
    const total = YMSG_HEADER_LEN + b.readUInt16BE(p + 8);
    if (total > this.maxUnitBytes) {
      this.failWith(`YMSG packet of ${total} bytes exceeds the ${this.maxUnitBytes}-byte limit`);
      return -1;
    }
    return total;
  }

  private failWith(reason: string): void {
    this.state = State.Failed;
    this.hdrFill = 0;
    this.body = null;
    this.sink.fail(reason);
  }

  private startBody(header: Buffer, total: number): void {
    const packet = Buffer.allocUnsafe(total);
    header.copy(packet, 0, 0, YMSG_HEADER_LEN);
    this.body = packet;
    this.bodyFill = YMSG_HEADER_LEN;
    this.state = State.Body;
  }

  private finishBody(): void {
    const packet = this.body as Buffer;
    this.body = null;
    this.bodyFill = 0;
    this.state = State.Header;
    const r = this.sink.packet(packet);
    if (r === undefined) this.sink.forward(packet);
    else if (r !== null) this.sink.forward(r);
  }
}
