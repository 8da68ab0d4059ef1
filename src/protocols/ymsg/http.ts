// Yahoo! Messenger's HTTP connection mode ("Yahoo HTTP", IM over port 80).
//
// What the sources say:
//   - The client POSTs to http://shttp.msg.yahoo.com/notify/ (Miranda IM
//     Yahoo plugin http_gateway.cpp YAHOO_httpGatewayInit, szHttpPostUrl;
//     SIM-IM yahoohttp.cpp YAHOO_HTTP; the Yahoo! Pager registry value
//     "Http Server" = shttp.msg.yahoo.com/notify/; Squid access logs show
//     `POST http://shttp.msg.yahoo.com/notify/`). SIM-IM sends
//     `Accept: application/octet-stream`.
//   - A request body is the client's YMSG packets as they would go on the
//     TCP connection, unwrapped (Miranda YAHOO_httpGatewayWrapSend sends the
//     buffer as is; an empty send becomes an idle packet,
//     yahoo_webmessenger_idle_packet). SIM-IM packs everything written while
//     a fetch is in flight into the next POST: a body can hold several packets.
//   - A response body is a 4-byte prefix, then the server's YMSG packets
//     (Miranda YAHOO_httpGatewayUnwrapRecv: fewer than 4 bytes breaks the
//     connection; exactly 4 is "nothing"; otherwise bytes 4..7 must be
//     "YMSG"; it reads the number of packets as buf[0] + buf[1] * 256.
//     SIM-IM reads the same 4 bytes as a 32-bit "packet id" and skips them).
//   - The HTTP mode has no session token of its own in these clients (no
//     cookie or query handling in either): the YMSG header's session id
//     (assigned by the server in its first answer, echoed by the client) is
//     what ties requests together.
// Assumptions (no capture or server exists here):
//   - The prefix's first two bytes count the packets (little-endian) and the
//     other two are opaque; when a verdict removes or adds packets and the
//     count matched the body, the count is rewritten, else the prefix is kept.
//   - Responses carry whole packets only, like the MSN gateway's bodies; a
//     body that ends inside a packet is not inspectable (the chain then
//     passes unread, see src/protocols/http/yahoo.ts).
import type { DissectorSession, SessionContext, SessionOutput, Side } from '../types';
import { YMSG_HEADER_LEN, YMSG_MAGIC } from './packet';
import { YMSG, YmsgSession } from './session';

export const YAHOO_HTTP_APP = 'yahoo-http';
export const YAHOO_HTTP_PREFIX_LEN = 4;

/** Is this request path (query allowed) the Yahoo HTTP pager's /notify? */
export function isNotifyPath(pathAndQuery: string): boolean {
  const q = pathAndQuery.indexOf('?');
  const p = (q < 0 ? pathAndQuery : pathAndQuery.slice(0, q)).toLowerCase();
  return p === '/notify' || p === '/notify/';
}

function startsYmsg(b: Buffer, at: number): boolean {
  if (b.length < at + YMSG_MAGIC.length) return false;
  for (let i = 0; i < YMSG_MAGIC.length; i++) if (b[at + i] !== YMSG_MAGIC[i]) return false;
  return true;
}

/**
 * The number of whole YMSG packets `b` is made of, or null when it is not
 * exactly whole packets (garbage, a cut packet). Walks headers only.
 */
export function countPackets(b: Buffer): number | null {
  let at = 0;
  let n = 0;
  while (at < b.length) {
    if (b.length - at < YMSG_HEADER_LEN || !startsYmsg(b, at)) return null;
    at += YMSG_HEADER_LEN + b.readUInt16BE(at + 8);
    if (at > b.length) return null;
    n++;
  }
  return n;
}

/** The YMSG session id of the first packet in `b` (0 before the server assigned one). */
export function firstSessionId(b: Buffer, at = 0): number | undefined {
  if (b.length - at < YMSG_HEADER_LEN || !startsYmsg(b, at)) return undefined;
  return b.readUInt32BE(at + 16);
}

export interface NotifyResponse {
  prefix: Buffer;
  /** The YMSG packets after the prefix (a view into the body, not a copy). */
  packets: Buffer;
}

/** Splits a /notify response body; a string says why it is not one. */
export function splitNotifyResponse(body: Buffer): NotifyResponse | string {
  if (body.length < YAHOO_HTTP_PREFIX_LEN) return `Yahoo HTTP response shorter than its ${YAHOO_HTTP_PREFIX_LEN}-byte prefix`;
  if (body.length > YAHOO_HTTP_PREFIX_LEN && !startsYmsg(body, YAHOO_HTTP_PREFIX_LEN)) return 'Yahoo HTTP response does not carry YMSG after its prefix';
  return { prefix: body.subarray(0, YAHOO_HTTP_PREFIX_LEN), packets: body.subarray(YAHOO_HTTP_PREFIX_LEN) };
}

/** A response body again, around new packets: the packet count follows when it counted the original ones. */
export function joinNotifyResponse(orig: NotifyResponse, packets: Buffer): Buffer {
  const prefix = Buffer.from(orig.prefix);
  const before = countPackets(orig.packets);
  const after = countPackets(packets);
  if (before !== null && after !== null && before !== after && prefix.readUInt16LE(0) === before) prefix.writeUInt16LE(Math.min(after, 0xffff), 0);
  return Buffer.concat([prefix, packets]);
}

/** YMSG events from the HTTP mode say so in their app. */
class YmsgHttpSession extends YmsgSession {
  protected override labels(): { protocol: string; app?: string } {
    return { protocol: YMSG, app: YAHOO_HTTP_APP };
  }
}

export interface YahooHttpResult {
  /** The packets to send on (some dropped or rewritten by the policy). */
  packets: Buffer;
  /** Gateway-made YMSG packets for the client (a "not sent" MESSAGE), to put in the response it gets next. */
  toClient: Buffer;
  /** Set once the YMSG session was refused (blocked login): nothing more of this chain goes on. */
  closed?: string;
}

/**
 * One Yahoo HTTP session's YMSG state across requests: the YMSG dissector
 * itself, fed the packets of each body and collected synchronously.
 */
export class YmsgHttpInspector {
  private readonly session: DissectorSession;
  private forwarded: Buffer[] = [];
  private injected: Buffer[] = [];
  private closeReason: string | undefined;

  constructor(ctx: SessionContext) {
    const out: SessionOutput = {
      forward: (_from, data) => this.forwarded.push(Buffer.from(data)),
      // YMSG only ever injects towards the client (the "not sent" notice).
      inject: (to, data) => {
        if (to === 'c2s') this.injected.push(Buffer.from(data));
      },
      close: (reason) => {
        if (this.closeReason === undefined) this.closeReason = reason;
      },
    };
    this.session = new YmsgHttpSession(ctx, out);
  }

  /** The packets of one request (side 'c2s') or response (side 's2c', prefix removed). */
  feed(side: Side, packets: Buffer): YahooHttpResult {
    this.forwarded = [];
    if (this.closeReason === undefined && packets.length > 0) this.session.push(side, packets);
    const fw = this.forwarded;
    const result: YahooHttpResult = {
      packets: fw.length === 1 ? (fw[0] as Buffer) : Buffer.concat(fw),
      toClient: Buffer.concat(this.injected),
    };
    this.forwarded = [];
    this.injected = [];
    if (this.closeReason !== undefined) result.closed = this.closeReason;
    return result;
  }

  dispose(): void {
    this.session.dispose?.();
  }
}
