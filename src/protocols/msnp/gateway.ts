// The MSN HTTP gateway (MSN Messenger behind HTTP proxies): the client POSTs
// to `http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=NS&IP=<ns>`
// (later `?SessionID=<id>`, or `?Action=poll&SessionID=<id>` with an empty
// body), Content-Type application/x-msn-messenger; request bodies carry the
// client's MSNP commands and response bodies the server's, whole commands
// only; the server names the next SessionID in its `X-MSN-Messenger`
// response header (hypothetic.org "HTTP Connections"; libpurple
// msn/httpconn.c). The HTTP dissector, wired later by the lead, hands each
// body here: one MsnGatewayInspector per gateway session (SessionID chain)
// keeps the MSNP state across requests.
import type { DissectorSession, SessionContext, SessionOutput, Side } from '../types';
import { MsnpSession } from './session';

export const MSN_GATEWAY_CONTENT_TYPE = 'application/x-msn-messenger';

export interface GatewayUrl {
  action?: string;
  server?: string;
  ip?: string;
  sessionId?: string;
}

/** Is this request path the MSN gateway, and what does its query say? */
export function parseGatewayUrl(pathAndQuery: string): GatewayUrl | null {
  const q = pathAndQuery.indexOf('?');
  const path = (q < 0 ? pathAndQuery : pathAndQuery.slice(0, q)).toLowerCase();
  if (!path.endsWith('/gateway/gateway.dll')) return null;
  const out: GatewayUrl = {};
  const params = new URLSearchParams(q < 0 ? '' : pathAndQuery.slice(q + 1));
  for (const [k, v] of params) {
    const key = k.toLowerCase();
    const val = v.slice(0, 256);
    if (key === 'action') out.action = val;
    else if (key === 'server') out.server = val;
    else if (key === 'ip') out.ip = val;
    else if (key === 'sessionid') out.sessionId = val;
  }
  return out;
}

export interface GatewayResult {
  /** The body to send on (rewritten or shortened by the policy). */
  body: Buffer;
  /** Gateway-made MSNP bytes for the client (NAK, 911, a 603 MSG), to append to the response it gets next. */
  toClient: Buffer;
  /** Gateway-made MSNP bytes for the server (a 603 MSG), to append to the next request body. */
  toServer: Buffer;
  /** Set once the MSNP session was refused (blocked login): answer with an error and drop the gateway session. */
  closed?: string;
}

export class MsnGatewayInspector {
  private readonly session: DissectorSession;
  private forwarded: Buffer[] = [];
  private injected: Record<Side, Buffer[]> = { c2s: [], s2c: [] };
  private closeReason: string | undefined;

  constructor(ctx: SessionContext) {
    const out: SessionOutput = {
      forward: (_from, data) => this.forwarded.push(Buffer.from(data)),
      inject: (to, data) => this.injected[to].push(Buffer.from(data)),
      close: (reason) => {
        if (this.closeReason === undefined) this.closeReason = reason;
      },
    };
    // Each body's output is collected synchronously: a file's last MSG cannot wait for its verdict here.
    this.session = new MsnpSession(ctx, out, false);
  }

  /** One request (side 'c2s') or response (side 's2c') body. */
  feed(side: Side, body: Buffer): GatewayResult {
    this.forwarded = [];
    if (this.closeReason === undefined && body.length > 0) this.session.push(side, body);
    const result: GatewayResult = {
      body: Buffer.concat(this.forwarded),
      toClient: Buffer.concat(this.injected.c2s),
      toServer: Buffer.concat(this.injected.s2c),
    };
    this.forwarded = [];
    this.injected = { c2s: [], s2c: [] };
    if (this.closeReason !== undefined) result.closed = this.closeReason;
    return result;
  }

  /** The chain is gone (tunnel closed or evicted): open file sinks end as partial. */
  dispose(): void {
    this.session.dispose?.();
  }
}
