// XMPP over WebSocket (RFC 7395): after the 101, each direction is a stream
// of frames whose text messages are one XML element each (<open/>, stanzas,
// <close/>). Frames of a message are held until its last fragment, then the
// message is inspected; allowed messages go on as their original frames,
// rewritten ones as one new frame, blocked ones not at all: an outgoing one
// is answered with an error frame for the client, an incoming one's remote
// sender gets an error in a frame of ours toward the server (as on TCP).
// Control frames pass at once (RFC 6455 lets them sit between fragments). XEP-0198 counters are kept by XmppInner; a stream
// resumes on a new WebSocket (a new tunnel) through the process-wide
// resumption table, keyed by the server's address.
import type { SessionContext, SessionOutput, Side } from '../types';
import { parseElement } from '../xmpp';
import { buildFrame, OP_CLOSE, OP_CONT, OP_TEXT, WsReader, type WsFrame } from './websocket';
import { XmppInner } from './xmpp-inner';

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

interface Partial {
  opcode: number;
  frames: WsFrame[];
  size: number;
}

export class WsXmpp {
  readonly inner: XmppInner;
  private readonly readers: Record<Side, WsReader>;
  private readonly partial: Record<Side, Partial | null> = { c2s: null, s2c: null };
  private dead = false;
  /** The client sent <close/> or a Close frame: no gateway-made frame goes to the server any more. */
  private clientClosing = false;

  constructor(
    ctx: SessionContext,
    private readonly out: SessionOutput,
    private readonly limit: number,
    inner?: XmppInner,
  ) {
    this.inner = inner ?? new XmppInner(ctx, 'websocket');
    const sink = { frame: (side: Side, f: WsFrame) => this.onFrame(side, f), fail: (r: string) => this.fail(r) };
    this.readers = { c2s: new WsReader('c2s', sink, limit), s2c: new WsReader('s2c', sink, limit) };
  }

  get pending(): number {
    return this.readers.c2s.pending + this.readers.s2c.pending + (this.partial.c2s?.size ?? 0) + (this.partial.s2c?.size ?? 0);
  }

  push(side: Side, data: Buffer): void {
    if (!this.dead) this.readers[side].push(data);
  }

  private fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.out.close(reason);
  }

  private onFrame(side: Side, f: WsFrame): void {
    if (this.dead) return;
    if (f.opcode >= 8) {
      // After the client's Close frame nothing may be sent on its behalf (RFC 6455 5.5.1).
      if (side === 'c2s' && f.opcode === OP_CLOSE) this.clientClosing = true;
      this.out.forward(side, f.raw);
      return;
    }
    let p = this.partial[side];
    if (f.opcode === OP_CONT) {
      if (p === null) return this.fail('http: websocket continuation frame without a message');
    } else {
      if (p !== null) return this.fail('http: websocket data frame inside a fragmented message');
      p = { opcode: f.opcode, frames: [], size: 0 };
    }
    if (p.size + f.payload.length > this.limit) return this.fail(`http: websocket message larger than ${this.limit} bytes`);
    p.frames.push(f);
    p.size += f.payload.length;
    if (!f.fin) {
      this.partial[side] = p;
      return;
    }
    this.partial[side] = null;
    this.message(side, p);
  }

  private message(side: Side, p: Partial): void {
    const originals = (): Buffer => (p.frames.length === 1 ? (p.frames[0] as WsFrame).raw : Buffer.concat(p.frames.map((f) => f.raw)));
    if (p.opcode !== OP_TEXT) {
      this.out.forward(side, originals());
      return;
    }
    const text = p.frames.length === 1 ? (p.frames[0] as WsFrame).payload : Buffer.concat(p.frames.map((f) => f.payload));
    const el = parseElement(text.toString('latin1'));
    const d = el === null ? { action: 'keep' as const } : this.inner.element(side, el, text);
    if (d.toClient !== undefined) {
      this.out.inject('c2s', buildFrame(OP_TEXT, d.toClient, false));
      if (d.toClientCounts === true) this.inner.sm.injectedToClient();
    }
    if (d.toServer !== undefined && !this.clientClosing) {
      // Its own masked frame (client -> server frames must be masked): the
      // client's messages go on only once complete, so this never lands
      // between the fragments of one of them.
      this.out.inject('s2c', buildFrame(OP_TEXT, d.toServer, true));
      this.inner.sm.injectedToServer();
    }
    if (this.inner.sm.broken) return this.fail('http: too many XEP-0198 adjustments without an ack');
    // A clean <close/> ends the XMPP session: it will not be resumed on another connection.
    if (side === 'c2s' && el !== null && el.local === 'close' && el.ns === NS_FRAMING) {
      this.inner.sm.closed();
      this.clientClosing = true;
    }
    if (d.action === 'keep') {
      this.out.forward(side, originals());
    } else if (d.action === 'replace' && d.bytes !== undefined && el !== null) {
      const payload = Buffer.concat([text.subarray(0, el.start), d.bytes, text.subarray(el.end)]);
      this.out.forward(side, buildFrame(OP_TEXT, payload, side === 'c2s'));
    }
  }
}
