// RFC 6455 frames, read as an explicit state machine over chunks (after
// ws's lib/receiver.js): a 2..14-byte header, then the payload, whose length
// is checked against the limit before any of it is kept. Client frames must
// be masked and server frames must not be; RSV bits (extensions such as
// permessage-deflate, which the gateway keeps out of the handshake) and
// unknown opcodes end the tunnel, as do over-long control frames.
import crypto from 'node:crypto';
import type { Side } from '../types';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;

export interface WsFrame {
  fin: boolean;
  opcode: number;
  /** Unmasked payload. */
  payload: Buffer;
  /** The frame's exact bytes. */
  raw: Buffer;
}

export interface FrameSink {
  frame(side: Side, f: WsFrame): void;
  fail(reason: string): void;
}

const enum W {
  Header,
  Payload,
  Dead,
}

export class WsReader {
  private state = W.Header;
  private readonly hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private need = 2;
  private length = 0;
  private parts: Buffer[] = [];
  private got = 0;

  constructor(
    private readonly side: Side,
    private readonly sink: FrameSink,
    private readonly limit: number,
  ) {}

  get pending(): number {
    return this.hdrLen + this.got;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n || (this.state === W.Payload && this.got === this.length)) {
      if (this.state === W.Dead) return;
      if (this.state === W.Header) {
        while (this.hdrLen < this.need && i < n) this.hdr[this.hdrLen++] = chunk[i++] as number;
        if (this.hdrLen < this.need) return;
        if (this.need === 2) {
          if (!this.first()) return;
          if (this.hdrLen < this.need) continue;
        }
        if (!this.finishHeader()) return;
        continue;
      }
      const take = Math.min(this.length - this.got, n - i);
      if (take > 0) {
        this.parts.push(chunk.subarray(i, i + take));
        this.got += take;
        i += take;
      }
      if (this.got === this.length) this.emit();
    }
  }

  /** The first two header bytes: validate them and learn the header's length. */
  private first(): boolean {
    const b0 = this.hdr[0] as number;
    const b1 = this.hdr[1] as number;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    if ((b0 & 0x70) !== 0) return this.die('websocket frame with RSV bits (compressed or extended) cannot be inspected');
    if ((opcode > 2 && opcode < 8) || opcode > 10) return this.die(`websocket opcode ${opcode} unknown`);
    if (opcode >= 8 && ((b0 & 0x80) === 0 || len7 > 125)) return this.die('websocket control frame fragmented or longer than 125 bytes');
    if (masked !== (this.side === 'c2s')) return this.die(this.side === 'c2s' ? 'websocket client frame not masked' : 'websocket server frame masked');
    this.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    return true;
  }

  /** The whole header is read: the payload length, checked before any payload is kept. */
  private finishHeader(): boolean {
    const len7 = (this.hdr[1] as number) & 0x7f;
    let length = len7;
    if (len7 === 126) length = this.hdr.readUInt16BE(2);
    else if (len7 === 127) {
      if (this.hdr.readUInt32BE(2) !== 0) return this.die(`websocket frame longer than ${this.limit} bytes`);
      length = this.hdr.readUInt32BE(6);
    }
    if (length > this.limit) return this.die(`websocket frame of ${length} bytes exceeds ${this.limit}`);
    this.length = length;
    this.got = 0;
    this.parts = [];
    this.state = W.Payload;
    return true;
  }

  private emit(): void {
    const hlen = this.need;
    const header = Buffer.from(this.hdr.subarray(0, hlen));
    const body = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.length);
    const raw = Buffer.concat([header, body]);
    let payload = body;
    if (this.side === 'c2s') {
      payload = Buffer.from(body);
      const m0 = header[hlen - 4] as number;
      const m1 = header[hlen - 3] as number;
      const m2 = header[hlen - 2] as number;
      const m3 = header[hlen - 1] as number;
      for (let k = 0; k < payload.length; k++) {
        const m = (k & 3) === 0 ? m0 : (k & 3) === 1 ? m1 : (k & 3) === 2 ? m2 : m3;
        payload[k] = (payload[k] as number) ^ m;
      }
    }
    const f: WsFrame = { fin: (header[0]! & 0x80) !== 0, opcode: header[0]! & 0x0f, payload, raw };
    this.state = W.Header;
    this.hdrLen = 0;
    this.need = 2;
    this.parts = [];
    this.got = this.length = 0;
    this.sink.frame(this.side, f);
  }

  private die(reason: string): false {
    this.state = W.Dead;
    this.parts = [];
    this.sink.fail(`http: ${reason}`);
    return false;
  }
}

/** One frame; masked with a fresh key when `masked` (client to server). */
export function buildFrame(opcode: number, payload: Buffer, masked: boolean, fin = true): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  else if (ext === 8) {
    head.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    head.writeUInt32BE(len >>> 0, 6);
  }
  if (!masked) return Buffer.concat([head, payload]);
  const key = crypto.randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.alloc(len);
  for (let k = 0; k < len; k++) body[k] = (payload[k] as number) ^ (key[k & 3] as number);
  return Buffer.concat([head, body]);
}
