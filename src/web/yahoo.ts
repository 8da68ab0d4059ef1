// Yahoo! Messenger's HTTP mode on the ICAP door (POST /notify/; what the
// sources say about it is in src/protocols/ymsg/http.ts): request bodies are
// YMSG packets, response bodies a 4-byte prefix and packets. One
// YmsgHttpInspector (the YMSG dissector's own) per client and YMSG session
// id: a login (session id 0) waits under the client's "open" key until the
// server's answer names the session id. A "not sent" notice for a blocked
// message rides in the client's next response. A body that is not whole,
// clean YMSG makes its session pass unread. Sessions are capped in number
// and idle time.
import type { IcapRequest, IcapVerdict } from '../../icap/types';
import type { ImEvent } from '../events/types';
import type { ContextDeps } from '../inspect/context';
import { YAHOO_HTTP_APP, YmsgHttpInspector, firstSessionId, joinNotifyResponse, splitNotifyResponse } from '../protocols/ymsg/http';
import { icapSessionContext } from './session-context';

interface Entry {
  inspector: YmsgHttpInspector;
  toClient: Buffer[];
  last: number;
  base: ImEvent;
  /** Verdicts that changed bytes: a changed body without one is not clean YMSG. */
  acted: number;
  unread?: boolean;
}

const MAX_SESSIONS = 10_000;
const MAX_OWED = 16 * 1024;
const IDLE_MS = 10 * 60 * 1000;
const ALLOW: IcapVerdict = Object.freeze({ kind: 'allow' });

export class YahooHttpSessions {
  private readonly sessions = new Map<string, Entry>();
  /** Client -> the key of its latest session: an empty response still gets what is owed to it. */
  private readonly latest = new Map<string, string>();

  constructor(
    private readonly deps: ContextDeps & { logTextMax?: number },
    private readonly maxUnitBytes: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  private entry(key: string, req: IcapRequest, base: ImEvent): Entry {
    let e = this.sessions.get(key);
    if (e === undefined) {
      this.evict();
      let self: Entry | null = null;
      const ctx = icapSessionContext(this.deps, this.maxUnitBytes, req, base, () => (self as Entry).base, {
        protocol: 'ymsg',
        app: YAHOO_HTTP_APP,
        onVerdict: (v) => {
          if (v.action === 'block' || v.action === 'redact') (self as Entry).acted++;
        },
      });
      const created: Entry = { inspector: new YmsgHttpInspector(ctx), toClient: [], last: 0, base, acted: 0 };
      self = created;
      e = created;
      this.sessions.set(key, e);
    }
    e.last = Date.now();
    e.base = base;
    return e;
  }

  private drop(key: string): void {
    this.sessions.get(key)?.inspector.dispose();
    this.sessions.delete(key);
  }

  private evict(): void {
    const now = Date.now();
    for (const [k, e] of this.sessions) if (now - e.last > IDLE_MS) this.drop(k);
    while (this.sessions.size >= MAX_SESSIONS) this.drop(this.sessions.keys().next().value as string);
    if (this.latest.size >= MAX_SESSIONS) this.latest.clear();
  }

  /** Feeds packets; null when the session is (or just became) unread. */
  private feed(e: Entry, req: IcapRequest, side: 'c2s' | 's2c', packets: Buffer): ReturnType<YmsgHttpInspector['feed']> | null {
    if (e.unread === true) return null;
    const before = e.acted;
    const r = e.inspector.feed(side, packets);
    if (e.acted === before && (r.closed !== undefined || !r.packets.equals(packets))) {
      e.unread = true;
      this.deps.logger.info({ conn: req.connectionId, icap: req.id, side, reason: r.closed ?? 'partial packet' }, 'Yahoo HTTP body not inspectable, session passes unread');
      return null;
    }
    return r;
  }

  /** A client POST to /notify (REQMOD). */
  request(req: IcapRequest, base: ImEvent, body: Buffer): IcapVerdict {
    const client = req.client.ip ?? req.remoteAddress;
    const id = firstSessionId(body);
    const key = id !== undefined && id !== 0 ? `${client}|${id}` : `${client}|open`;
    const e = this.entry(key, req, base);
    this.latest.set(client, key);
    const r = this.feed(e, req, 'c2s', body);
    if (r === null) return ALLOW;
    if (r.toClient.length > 0 && e.toClient.reduce((n, b) => n + b.length, 0) + r.toClient.length <= MAX_OWED) e.toClient.push(r.toClient);
    if (r.closed !== undefined) {
      this.drop(key);
      // Miranda's HTTP mode treats any answer but 200 as a failed connection.
      return { kind: 'block', response: { startLine: 'HTTP/1.1 403 Forbidden', headers: [['Content-Type', 'application/octet-stream'], ['Cache-Control', 'no-store']] }, body: Buffer.alloc(0), reason: r.closed };
    }
    return r.packets.equals(body) ? ALLOW : { kind: 'modify', body: r.packets };
  }

  /** The server's answer (RESPMOD): its packets name the session id. */
  response(req: IcapRequest, base: ImEvent, body: Buffer): IcapVerdict {
    const client = req.client.ip ?? req.remoteAddress;
    const split = splitNotifyResponse(body);
    if (typeof split === 'string') return ALLOW;
    const id = firstSessionId(split.packets);
    let key = id !== undefined && id !== 0 ? `${client}|${id}` : (this.latest.get(client) ?? `${client}|open`);
    const open = `${client}|open`;
    if (!this.sessions.has(key) && this.sessions.has(open)) {
      // The login's answer: the session is known by its id from now on.
      const e = this.sessions.get(open) as Entry;
      this.sessions.delete(open);
      this.sessions.set(key, e);
    }
    this.latest.set(client, key);
    const e = this.entry(key, req, base);
    const r = this.feed(e, req, 's2c', split.packets);
    if (r === null) return ALLOW;
    const extra = e.toClient.splice(0);
    if (r.toClient.length > 0) extra.push(r.toClient);
    if (extra.length === 0 && r.packets.equals(split.packets)) return ALLOW;
    return { kind: 'modify', body: joinNotifyResponse(split, extra.length === 0 ? r.packets : Buffer.concat([r.packets, ...extra])) };
  }
}
