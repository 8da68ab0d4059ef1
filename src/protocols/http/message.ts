// One direction of an HTTP/1.x connection: head -> body -> head ..., or
// (after a protocol switch) a raw tunnel. Each message is either streamed
// (its bytes forwarded as they are read) or held whole (bounded) so the
// session can inspect and rewrite it. The handler decides per head.
import type { ParsedHttpHead } from '../../../icap/http-head';
import type { Side } from '../types';
import { BodyReader, type Framing } from './body';
import { HeadReader, type HeadLimits } from './head';

export interface Plan {
  framing: Framing;
  /** Hold the whole message for inspection (else stream it). */
  hold: boolean;
  /** Forward this head instead of the original (streamed messages only). */
  headOut?: Buffer;
}

export interface HeldMessage {
  head: ParsedHttpHead;
  headRaw: Buffer;
  framing: Framing;
  /** The message's exact bytes, head included. */
  raw: Buffer[];
  /** The decoded body. */
  body: Buffer;
}

export interface ReaderHandler {
  /** A head was read: how to read its message, or null (the handler stopped or failed this reader). */
  head(side: Side, head: ParsedHttpHead, raw: Buffer): Plan | null;
  /** A held message is complete. */
  held(side: Side, msg: HeldMessage): void;
  /** A message (held or streamed) ended. */
  messageEnd(side: Side): void;
  forward(side: Side, data: Buffer): void;
  /** Bytes after the switch to a tunnel. */
  tunnel(side: Side, data: Buffer): void;
  fail(reason: string): void;
}

const enum St {
  Head,
  Body,
  Tunnel,
  Stopped, // not HTTP any more: bytes go through unread
  Dead,
}

export class MessageReader {
  private state = St.Head;
  private readonly headReader: HeadReader;
  private readonly body: BodyReader;
  private hold = false;
  private heldHead: { head: ParsedHttpHead; raw: Buffer; framing: Framing } | null = null;
  private rawParts: Buffer[] = [];
  private bodyParts: Buffer[] = [];
  private heldLen = 0;
  private readonly keepData = (s: Buffer): void => {
    this.bodyParts.push(s);
  };
  private readonly dropData = (): void => undefined;

  constructor(
    private readonly side: Side,
    private readonly handler: ReaderHandler,
    limits: HeadLimits,
    /** Most bytes one held message may take. */
    private readonly maxHeld: number,
  ) {
    this.headReader = new HeadReader(limits, side === 'c2s' ? 'http request' : 'http response');
    this.body = new BodyReader();
  }

  /** Bytes this direction holds right now. */
  get pending(): number {
    return this.headReader.pending + this.heldLen;
  }

  get inTunnel(): boolean {
    return this.state === St.Tunnel;
  }

  /** From now on bytes are tunnel data; returns what was held of an unfinished head. */
  enterTunnel(): Buffer | null {
    this.state = St.Tunnel;
    return this.headReader.pending > 0 ? this.headReader.take() : null;
  }

  /** Stop reading HTTP: held bytes are returned and later ones pass untouched. */
  stop(): Buffer | null {
    const held = this.state === St.Body && this.hold ? Buffer.concat(this.rawParts) : null;
    const head = this.headReader.pending > 0 ? this.headReader.take() : null;
    this.state = St.Stopped;
    this.rawParts = [];
    this.bodyParts = [];
    this.heldLen = 0;
    if (held !== null && head !== null) return Buffer.concat([held, head]);
    return held ?? head;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case St.Dead:
          return;
        case St.Stopped:
          this.handler.forward(this.side, i === 0 ? chunk : chunk.subarray(i));
          return;
        case St.Tunnel:
          this.handler.tunnel(this.side, i === 0 ? chunk : chunk.subarray(i));
          return;
        case St.Head: {
          const r = this.headReader.push(chunk, i);
          if (r === null) return;
          if (typeof r === 'string') return this.die(r);
          i = r.end;
          const plan = this.handler.head(this.side, r.head, r.raw);
          if (plan === null) {
            if (this.state === St.Head) this.state = St.Dead;
            break; // stopped / tunnel / dead: the loop continues by state
          }
          this.beginBody(r.head, r.raw, plan);
          if ((this.state as St) === St.Dead) return;
          break;
        }
        case St.Body: {
          const at = i;
          const r = this.body.push(chunk, i, this.hold ? this.keepData : this.dropData);
          if (typeof r === 'string') return this.die(`${this.side === 'c2s' ? 'request' : 'response'} body: ${r}`);
          i = r.end;
          if (i > at) {
            if (this.hold) {
              if (this.heldLen + (i - at) > this.maxHeld) return this.die(`held ${this.side} message larger than ${this.maxHeld} bytes`);
              this.rawParts.push(chunk.subarray(at, i));
              this.heldLen += i - at;
            } else {
              this.handler.forward(this.side, chunk.subarray(at, i));
            }
          }
          if (r.done) this.endMessage();
          break;
        }
      }
    }
  }

  /** The direction's FIN: a body delimited by the close ends here. */
  end(): void {
    if (this.state === St.Body && this.body.kind === 'close') this.endMessage();
  }

  private beginBody(head: ParsedHttpHead, raw: Buffer, plan: Plan): void {
    const err = plan.framing.kind === 'none' ? null : this.body.start(plan.framing, plan.hold ? this.maxHeld : Number.MAX_SAFE_INTEGER);
    if (err !== null) return this.die(`${this.side === 'c2s' ? 'request' : 'response'}: ${err}`);
    this.hold = plan.hold;
    if (plan.hold) {
      this.heldHead = { head, raw, framing: plan.framing };
      this.rawParts = [raw];
      this.bodyParts = [];
      this.heldLen = raw.length;
    } else {
      this.handler.forward(this.side, plan.headOut ?? raw);
    }
    this.state = St.Body;
    if (plan.framing.kind === 'none') this.endMessage();
  }

  private endMessage(): void {
    if (this.state !== St.Body) return;
    this.state = St.Head;
    if (this.hold) {
      const h = this.heldHead as { head: ParsedHttpHead; raw: Buffer; framing: Framing };
      const msg: HeldMessage = {
        head: h.head,
        headRaw: h.raw,
        framing: h.framing,
        raw: this.rawParts,
        body: this.bodyParts.length === 1 ? (this.bodyParts[0] as Buffer) : Buffer.concat(this.bodyParts),
      };
      this.heldHead = null;
      this.rawParts = [];
      this.bodyParts = [];
      this.heldLen = 0;
      this.hold = false;
      this.handler.held(this.side, msg);
    }
    this.handler.messageEnd(this.side);
  }

  private die(reason: string): void {
    this.state = St.Dead;
    this.rawParts = [];
    this.bodyParts = [];
    this.heldLen = 0;
    this.handler.fail(`http: ${reason}`);
  }
}
