// The MSN HTTP gateway (gateway.dll): request bodies carry the client's MSNP
// commands, response bodies the server's. One MsnGatewayInspector (the MSNP
// dissector's own) per gateway session keeps MSNP state across requests; the
// session is keyed by SessionID and re-keyed when a response names the next
// one (X-MSN-Messenger). Gateway-made bytes (NAK, 911, 603) ride on the next
// body in their direction. Sessions are capped in number and idle time.
import type { IcapRequest, IcapVerdict } from '../../icap/types';
import type { ImEvent } from '../events/types';
import type { ContextDeps } from '../inspect/context';
import { MsnGatewayInspector, MSN_GATEWAY_CONTENT_TYPE, parseGatewayUrl } from '../protocols/msnp';
import { icapSessionContext } from './session-context';

interface Entry {
  inspector: MsnGatewayInspector;
  /** Bytes the gateway made for the client / the server, waiting for the next body that way. */
  toClient: Buffer[];
  toServer: Buffer[];
  last: number;
  base: ImEvent;
}

const MAX_SESSIONS = 10_000;
const IDLE_MS = 10 * 60 * 1000;
const ALLOW: IcapVerdict = Object.freeze({ kind: 'allow' });

export class MsnGatewaySessions {
  private readonly sessions = new Map<string, Entry>();

  constructor(
    private readonly deps: ContextDeps & { logTextMax?: number },
    private readonly maxUnitBytes: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  private keyOf(req: IcapRequest, target: string): string {
    const u = parseGatewayUrl(target);
    if (u?.sessionId !== undefined) return `s:${u.sessionId}`;
    return `open:${req.client.ip ?? req.remoteAddress}:${u?.server ?? ''}:${u?.ip ?? ''}`;
  }

  private entry(key: string, req: IcapRequest, base: ImEvent): Entry {
    let e = this.sessions.get(key);
    if (e === undefined) {
      this.evict();
      let self: Entry | null = null;
      const created: Entry = {
        inspector: new MsnGatewayInspector(icapSessionContext(this.deps, this.maxUnitBytes, req, base, () => (self as Entry).base, { protocol: 'msnp', app: 'msn' })),
        toClient: [],
        toServer: [],
        last: Date.now(),
        base,
      };
      self = created;
      e = created;
      this.sessions.set(key, e);
    }
    e.last = Date.now();
    e.base = base;
    return e;
  }

  private evict(): void {
    const now = Date.now();
    for (const [k, e] of this.sessions) if (now - e.last > IDLE_MS) this.sessions.delete(k);
    // Still full: drop the oldest (Map keeps insertion order).
    while (this.sessions.size >= MAX_SESSIONS) {
      const first = this.sessions.keys().next().value as string;
      this.sessions.delete(first);
    }
  }

  /** A client POST to gateway.dll (REQMOD). */
  request(req: IcapRequest, target: string, base: ImEvent, body: Buffer): IcapVerdict {
    const key = this.keyOf(req, target);
    const e = this.entry(key, req, base);
    const r = e.inspector.feed('c2s', body);
    if (r.toClient.length > 0) e.toClient.push(r.toClient);
    if (r.closed !== undefined) {
      this.sessions.delete(key);
      // The client hears it in MSNP (e.g. 911) and the gateway session is over.
      const out = Buffer.concat(e.toClient);
      return {
        kind: 'block',
        response: {
          startLine: 'HTTP/1.1 200 OK',
          headers: [['Content-Type', MSN_GATEWAY_CONTENT_TYPE], ['X-MSN-Messenger', 'Session=close'], ['Cache-Control', 'no-store']],
        },
        body: out,
        reason: r.closed,
      };
    }
    const pending = e.toServer.splice(0);
    const next = pending.length > 0 ? Buffer.concat([...pending, r.body]) : r.body;
    return next.equals(body) ? ALLOW : { kind: 'modify', body: next };
  }

  /** The gateway's answer (RESPMOD); X-MSN-Messenger names the next SessionID. */
  response(req: IcapRequest, target: string, base: ImEvent, body: Buffer): IcapVerdict {
    const key = this.keyOf(req, target);
    const e = this.sessions.get(key) ?? this.entry(key, req, base);
    const hdr = req.httpResponse?.get('x-msn-messenger') ?? '';
    const sid = /SessionID=([^;\s]{1,256})/i.exec(hdr)?.[1];
    if (sid !== undefined && `s:${sid}` !== key) {
      this.sessions.delete(key);
      this.sessions.set(`s:${sid}`, e);
    }
    if (/Session=close/i.test(hdr)) this.sessions.delete(sid !== undefined ? `s:${sid}` : key);
    const r = e.inspector.feed('s2c', body);
    if (r.toServer.length > 0) e.toServer.push(r.toServer);
    const extra = e.toClient.splice(0);
    if (r.toClient.length > 0) extra.push(r.toClient);
    const next = extra.length > 0 ? Buffer.concat([r.body, ...extra]) : r.body;
    return next.equals(body) ? ALLOW : { kind: 'modify', body: next };
  }
}
