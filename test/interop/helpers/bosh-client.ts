// A small XMPP-over-BOSH client (XEP-0124/0206) on node:http, as a web
// client behind a forward proxy sends it: absolute-URI POSTs to the proxy
// (optionally with Basic proxy credentials), keep-alive, at most two requests
// in flight (hold=1: one long poll held by the connection manager, one to
// send). Every response body is kept, so a test reads what the user's
// client received, in order.
import http from 'node:http';

export const BOSH_NS = 'http://jabber.org/protocol/httpbind';

export interface BoshClientOptions {
  /** The connection manager, e.g. http://127.0.0.1:5280/http-bind. */
  url: string;
  domain: string;
  user: string;
  password: string;
  resource?: string;
  /** Forward proxy on 127.0.0.1; without it the requests go direct. */
  proxyPort?: number;
  /** Basic proxy credentials (Proxy-Authorization). */
  proxyAuth?: { name: string; password: string };
  /** Seconds the manager may hold a poll (wait=). */
  wait?: number;
}

export interface BoshResponse {
  rid: number;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class BoshClient {
  /** Every response, in arrival order. */
  readonly responses: BoshResponse[] = [];
  sid = '';
  jid = '';
  private rid = 1000 + Math.floor(Math.random() * 1e6);
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  private polling = false;
  private pollDone: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  constructor(readonly opts: BoshClientOptions) {}

  /** One POST; resolves with the status and the whole body. */
  post(xml: string, timeoutMs = 20000): Promise<BoshResponse> {
    const rid = this.rid;
    const u = new URL(this.opts.url);
    const body = Buffer.from(xml);
    const headers: http.OutgoingHttpHeaders = {
      Host: u.host,
      'Content-Type': 'text/xml; charset=utf-8',
      'Content-Length': body.length,
    };
    const a = this.opts.proxyAuth;
    if (a !== undefined) headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${a.name}:${a.password}`).toString('base64')}`;
    const via = this.opts.proxyPort !== undefined;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: via ? this.opts.proxyPort : Number(u.port),
          method: 'POST',
          path: via ? u.href : u.pathname,
          headers,
          agent: this.agent,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const r = { rid, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
            this.responses.push(r);
            for (const w of this.waiters.splice(0)) w();
            resolve(r);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`BOSH rid ${rid}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A `<body/>` wrapper with the next rid; `inner` are the stanzas. */
  wrap(inner: string, extraAttrs = ''): string {
    return `<body rid='${++this.rid}' sid='${this.sid}' xmlns='${BOSH_NS}'${extraAttrs}>${inner}</body>`;
  }

  /** Session creation, SASL PLAIN, restart, bind, session, initial presence; then the long poll runs. */
  async login(): Promise<void> {
    await this.createSession();
    const auth = await this.authenticate();
    if (!auth.body.includes('<success')) throw new Error(`SASL PLAIN failed for ${this.opts.user}: ${auth.status} ${auth.body}`);
    await this.bindAndPresence();
  }

  /** The session-creation request; sets `sid`. */
  async createSession(): Promise<BoshResponse> {
    const o = this.opts;
    const created = await this.post(
      `<body rid='${++this.rid}' to='${o.domain}' xml:lang='en' wait='${o.wait ?? 5}' hold='1' ver='1.6' xmpp:version='1.0' xmlns='${BOSH_NS}' xmlns:xmpp='urn:xmpp:xbosh'/>`,
    );
    this.sid = /\bsid=['"]([^'"]+)/.exec(created.body)?.[1] ?? '';
    if (created.status !== 200 || this.sid === '') throw new Error(`BOSH session not created: ${created.status} ${created.body}`);
    return created;
  }

  /** SASL PLAIN in one request; the caller judges the answer. */
  authenticate(): Promise<BoshResponse> {
    const plain = Buffer.from(`\0${this.opts.user}\0${this.opts.password}`).toString('base64');
    return this.post(this.wrap(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`));
  }

  /** Stream restart, resource bind, session, initial presence; starts the long poll. */
  async bindAndPresence(): Promise<void> {
    const o = this.opts;
    await this.post(this.wrap('', ` to='${o.domain}' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`));
    const bind = await this.post(
      this.wrap(`<iq type='set' id='bind1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${o.resource ?? 'web'}</resource></bind></iq>`),
    );
    this.jid = /<jid>([^<]+)<\/jid>/.exec(bind.body)?.[1] ?? '';
    if (this.jid === '') throw new Error(`bind failed for ${o.user}: ${bind.body}`);
    await this.post(this.wrap(`<iq type='set' id='sess1' xmlns='jabber:client'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`));
    await this.post(this.wrap(`<presence xmlns='jabber:client'/>`));
    this.startPolling();
  }

  /** Keeps one empty request outstanding so the manager can push stanzas (hold=1). */
  private startPolling(): void {
    this.polling = true;
    this.pollDone = (async () => {
      while (this.polling) {
        try {
          const r = await this.post(this.wrap(''));
          if (/type=['"]terminate['"]/.test(r.body)) this.polling = false;
        } catch {
          if (this.polling) await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
  }

  /** Sends stanzas in their own request; its response is recorded like any other. */
  send(inner: string): Promise<BoshResponse> {
    return this.post(this.wrap(inner));
  }

  /** The concatenated bodies received so far (from response index `from`). */
  received(from = 0): string {
    return this.responses.slice(from).map((r) => r.body).join('\n');
  }

  /** Waits until some response body satisfies `pred`; null on timeout. */
  async waitFor(pred: (r: BoshResponse) => boolean, timeoutMs = 10000): Promise<BoshResponse | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.responses.find(pred);
      if (hit !== undefined) return hit;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Terminates the session, ends the poll loop and closes the sockets. */
  async stop(): Promise<void> {
    const was = this.polling;
    this.polling = false;
    if (this.sid !== '' && was) {
      await this.post(this.wrap(`<presence type='unavailable' xmlns='jabber:client'/>`, " type='terminate'"), 5000).catch(() => undefined);
    }
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.pollDone, new Promise((r) => (t = setTimeout(r, 6000)))]);
    clearTimeout(t);
    this.agent.destroy();
  }
}

/** The text of each `<message>`'s `<body>` in `xml`, in order (XML entities left as sent). */
export function messageBodies(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<message\b[^>]*>([\s\S]*?)<\/message>/g)) {
    const b = /<body>([\s\S]*?)<\/body>/.exec(m[1] ?? '');
    if (b) out.push(b[1] ?? '');
  }
  return out;
}
