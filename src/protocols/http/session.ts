// One HTTP/1.x connection inside a tunnel. Both directions are read as
// messages; responses are matched to requests in order (pipelining, bounded).
// Requests that carry IM (BOSH, the MSN gateway) are held whole with their
// responses, handed to the IM inspectors and re-framed only if a verdict
// changed them; a WebSocket upgrade to xmpp turns the connection into
// inspected frames. Anything else is forwarded as it is read, and a
// connection whose first request is not IM (or that switches to a protocol
// that is not) stops being read at all (passthrough).
import type { ParsedHttpHead } from '../../../icap/http-head';
import type { DissectorSession, SessionContext, SessionOutput, Side } from '../types';
import type { Framing } from './body';
import { BoshInspector } from './bosh';
import { classifyRequest, type RequestKind } from './classify';
import { headerTokens, parseRequestLine, parseStatusLine, pathOf, rechunk, requestFraming, responseFraming, withContentLength, withoutHeader } from './framing';
import type { HeadLimits } from './head';
import { MessageReader, type HeldMessage, type Plan, type ReaderHandler } from './message';
import { MsnGateways, nextSessionId, type MsnChain } from './msn';
import { WsXmpp } from './ws-xmpp';
import { YahooGateways, type YahooChain } from './yahoo';

export const HTTP_HEAD_LIMITS: HeadLimits = { maxLine: 8192, maxHead: 65536, maxHeaders: 128 };
/** Requests awaiting their response. */
export const MAX_PIPELINE = 64;
const NONE: Framing = { kind: 'none' };
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');

interface Pending {
  method: string;
  kind: RequestKind;
  chain?: MsnChain;
  /** Yahoo HTTP: known once the request body (its YMSG session id) is read. */
  ychain?: YahooChain;
  /** The request head to send instead of the original (Expect removed). */
  headOut?: Buffer;
}

export function withApp(ctx: SessionContext, app: string): SessionContext {
  return {
    conn: ctx.conn,
    destination: ctx.destination,
    options: ctx.options,
    log: ctx.log,
    decide: (d) => ctx.decide(d.app === undefined ? { ...d, app } : d),
    redact: (t, v) => ctx.redact(t, v),
  };
}

export class HttpSession implements DissectorSession, ReaderHandler {
  passthrough = false;
  private closed = false;
  private readonly readers: Record<Side, MessageReader>;
  private readonly queue: Pending[] = [];
  private readonly current: Record<Side, Pending | null> = { c2s: null, s2c: null };
  private first = true;
  /** What the connection becomes once the current response has passed. */
  private after: 'websocket' | 'passthrough' | null = null;
  private bosh: BoshInspector | null = null;
  private msn: MsnGateways | null = null;
  private yahoo: YahooGateways | null = null;
  private ws: WsXmpp | null = null;
  private readonly limit: number;

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
  ) {
    this.limit = Math.max(1024, ctx.options.maxUnitBytes);
    const limits: HeadLimits = { ...HTTP_HEAD_LIMITS, maxHead: Math.min(HTTP_HEAD_LIMITS.maxHead, this.limit) };
    this.readers = {
      c2s: new MessageReader('c2s', this, limits, this.limit),
      s2c: new MessageReader('s2c', this, limits, this.limit),
    };
  }

  push(from: Side, chunk: Buffer): void {
    if (this.closed) return;
    if (this.passthrough) {
      this.out.forward(from, chunk);
      return;
    }
    try {
      this.readers[from].push(chunk);
    } catch (err) {
      // A bug here must not take the process down; the tunnel ends with a reason.
      this.fail(`http: internal error: ${(err as Error).message}`);
    }
  }

  /** The tunnel is gone (DissectorSession.dispose). */
  dispose(): void {
    this.msn?.dispose();
    this.yahoo?.dispose();
  }

  end(from: Side): void {
    if (this.closed || this.passthrough) return;
    try {
      this.readers[from].end();
    } catch (err) {
      this.fail(`http: internal error: ${(err as Error).message}`);
    }
  }

  // ---- ReaderHandler -------------------------------------------------------

  head(side: Side, head: ParsedHttpHead, raw: Buffer): Plan | null {
    return side === 'c2s' ? this.requestHead(head, raw) : this.responseHead(head);
  }

  held(side: Side, msg: HeldMessage): void {
    const p = this.current[side];
    let body: Buffer | null = null;
    if (p !== null && (p.kind === 'bosh' || p.kind === 'bosh?')) {
      const r = this.boshInspector().body(side, msg.body);
      if (r === 'not-bosh') {
        if (p.kind === 'bosh?') p.kind = 'plain';
      } else {
        p.kind = 'bosh';
        body = r;
      }
    } else if (p !== null && p.kind === 'msn' && p.chain !== undefined) {
      const gw = this.gateways();
      body = side === 'c2s' ? gw.request(p.chain, msg.body) : gw.response(p.chain, msg.body);
    } else if (p !== null && p.kind === 'yahoo') {
      body = this.yahooBody(side, p, msg.body);
    }
    this.emitHeld(side, msg, body, side === 'c2s' ? p?.headOut : undefined);
  }

  messageEnd(side: Side): void {
    if (side !== 's2c') return;
    this.current.s2c = null;
    const after = this.after;
    if (after === null) return;
    this.after = null;
    if (after === 'websocket') this.toWebSocket();
    else this.toPassthrough();
  }

  forward(side: Side, data: Buffer): void {
    this.out.forward(side, data);
  }

  tunnel(side: Side, data: Buffer): void {
    if (this.ws !== null) this.ws.push(side, data);
    else this.out.forward(side, data);
  }

  fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.log.info({ reason }, 'http: closing tunnel');
    this.out.close(reason);
  }

  // ---- requests and responses ----------------------------------------------

  private requestHead(head: ParsedHttpHead, raw: Buffer): Plan | null {
    const rl = parseRequestLine(head.startLine);
    if (rl === null) {
      this.fail('http: malformed request line');
      return null;
    }
    const kind = classifyRequest(rl.method, rl.target, head);
    if (this.first) {
      this.first = false;
      if (kind === 'plain' || kind === 'connect' || kind === 'upgrade') {
        this.out.forward('c2s', raw);
        this.toPassthrough();
        return null;
      }
    }
    const framing = requestFraming(head);
    if (typeof framing === 'string') {
      this.fail(`http: ${framing}`);
      return null;
    }
    if (this.queue.length >= MAX_PIPELINE) {
      this.fail(`http: more than ${MAX_PIPELINE} requests awaiting responses`);
      return null;
    }
    const p: Pending = { method: rl.method, kind };
    if (kind === 'msn') p.chain = this.gateways().chainFor(pathOf(rl.target));
    const idle = this.queue.length === 0 && this.readers.s2c.pending === 0;
    this.queue.push(p);
    this.current.c2s = p;
    // An empty MSN poll is held too: gateway-made commands may ride in it.
    const hold = ((kind === 'bosh' || kind === 'bosh?' || kind === 'msn' || kind === 'yahoo') && framing.kind !== 'none') || (kind === 'msn' && rl.method === 'POST');
    if (hold && headerTokens(head, 'expect').includes('100-continue')) {
      // The held body only goes on once complete: answer the client's
      // Expect here and send the server a request that expects nothing.
      p.headOut = withoutHeader(raw, 'Expect');
      if (idle) this.out.inject('c2s', CONTINUE);
    }
    if (kind === 'ws-xmpp' && head.get('sec-websocket-extensions') !== undefined) {
      // Compressed frames could not be read: keep extensions out of the handshake.
      return { framing, hold, headOut: withoutHeader(raw, 'Sec-WebSocket-Extensions') };
    }
    return { framing, hold };
  }

  private responseHead(head: ParsedHttpHead): Plan | null {
    const status = parseStatusLine(head.startLine);
    if (status === null) {
      this.fail('http: malformed status line');
      return null;
    }
    if (status >= 100 && status < 200 && status !== 101) return { framing: NONE, hold: false };
    const req = this.queue.shift();
    this.current.s2c = req ?? null;
    if (status === 101) {
      const xmpp = req?.kind === 'ws-xmpp' && headerTokens(head, 'sec-websocket-protocol').includes('xmpp');
      this.after = xmpp && head.get('sec-websocket-extensions') === undefined ? 'websocket' : 'passthrough';
      if (xmpp && this.after === 'passthrough') this.ctx.log.warn({}, 'http: websocket extensions negotiated, xmpp frames not inspected');
      return { framing: NONE, hold: false };
    }
    if (req?.kind === 'connect' && status >= 200 && status < 300) this.after = 'passthrough';
    const framing = responseFraming(head, status, req?.method);
    if (typeof framing === 'string') {
      this.fail(`http: ${framing}`);
      return null;
    }
    if (req?.kind === 'msn' && req.chain !== undefined) {
      const next = nextSessionId(head.get('x-msn-messenger'));
      if (next !== undefined) this.gateways().name(req.chain, next);
    }
    const im = req !== undefined && (req.kind === 'bosh' || req.kind === 'bosh?' || req.kind === 'msn' || (req.kind === 'yahoo' && status === 200));
    const emptyMsn = req?.kind === 'msn' && status === 200 && req.method === 'POST';
    return { framing, hold: (im && framing.kind !== 'none') || emptyMsn };
  }

  /** A held message goes on: its original bytes, or re-framed around the new body. */
  private emitHeld(side: Side, msg: HeldMessage, body: Buffer | null, headOut: Buffer | undefined): void {
    if (body === null && headOut === undefined) {
      this.out.forward(side, msg.raw.length === 1 ? (msg.raw[0] as Buffer) : Buffer.concat(msg.raw));
      return;
    }
    const b = body ?? msg.body;
    const head = headOut ?? msg.headRaw;
    const f = msg.framing.kind;
    if (f === 'chunked') this.out.forward(side, Buffer.concat([head, rechunk(b)]));
    else if (f === 'length') this.out.forward(side, Buffer.concat([withContentLength(head, b.length), b]));
    else if (f === 'none') this.out.forward(side, Buffer.concat([b.length > 0 ? withContentLength(head, b.length) : head, b]));
    else this.out.forward(side, Buffer.concat([head, b]));
  }

  // ---- switches ------------------------------------------------------------

  private toPassthrough(): void {
    for (const side of ['c2s', 's2c'] as const) {
      const held = this.readers[side].stop();
      if (held !== null) this.out.forward(side, held);
    }
    this.passthrough = true;
    this.ctx.log.debug({}, 'http: not IM, passthrough');
  }

  private toWebSocket(): void {
    this.ws = new WsXmpp(withApp(this.ctx, 'websocket'), this.out, this.limit);
    const early = this.readers.c2s.enterTunnel();
    this.readers.s2c.enterTunnel();
    if (early !== null) this.ws.push('c2s', early);
  }

  private boshInspector(): BoshInspector {
    if (this.bosh === null) this.bosh = new BoshInspector(withApp(this.ctx, 'bosh'));
    return this.bosh;
  }

  /** A Yahoo HTTP body (null: unchanged); the request's YMSG session id names the chain its response joins. */
  private yahooBody(side: Side, p: Pending, body: Buffer): Buffer | null {
    if (this.yahoo === null) this.yahoo = new YahooGateways(withApp(this.ctx, 'yahoo-http'));
    const gw = this.yahoo;
    if (side === 'c2s') {
      if (body.length === 0) return null;
      p.ychain = gw.chainFor(body);
      return gw.request(p.ychain, body);
    }
    p.ychain ??= gw.chainFor(body, 4);
    return gw.response(p.ychain, body);
  }

  private gateways(): MsnGateways {
    if (this.msn === null) this.msn = new MsnGateways(withApp(this.ctx, 'msn-http'));
    return this.msn;
  }
}
