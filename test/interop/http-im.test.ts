// XMPP over BOSH through imgate's SOCKS5 door into real Prosody 0.12
// (mod_bosh): alice's HTTP requests share one tunnel (keep-alive), bob is a
// direct @xmpp/client session. The gateway's HTTP dissector hands the BOSH
// stanzas to the XMPP logic with the policy.
import net from 'node:net';
import { SocksClient } from 'socks';
import { Gateway } from './helpers/gateway';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { XmppClient } from './helpers/xmpp-client';
import { imPolicy, XMPP_USERS } from './helpers/im-policy';

const POLICY = imPolicy();
const NS = 'http://jabber.org/protocol/httpbind';

/** Minimal HTTP/1.1 client over one socket: one request at a time, Content-Length responses. */
class OneSocketHttp {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  constructor(readonly sock: net.Socket, private readonly port: number) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
  }

  async post(body: string): Promise<{ status: number; body: string }> {
    const b = Buffer.from(body);
    this.sock.write(`POST /http-bind HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: ${b.length}\r\n\r\n`);
    this.sock.write(b);
    const deadline = Date.now() + 15000;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.toString('latin1', 0, end);
        const m = /content-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (this.buf.length >= end + 4 + len) {
          const out = { status: Number(head.split(' ')[1]), body: this.buf.toString('utf8', end + 4, end + 4 + len) };
          this.buf = this.buf.subarray(end + 4 + len);
          return out;
        }
      }
      if (Date.now() > deadline) throw new Error(`no HTTP response; got ${this.buf.toString()}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
      this.waiter = null;
    }
  }
}

let prosody: Prosody;
let gw: Gateway;
let bob: XmppClient;
let http: OneSocketHttp;
let rid = 5000;
let sid = '';

const bodyOf = (xml: string): string | null => /<body>([\s\S]*?)<\/body>/.exec(xml)?.[1] ?? null;
const bobBodies = (): string[] => bob.stanzas().filter((x) => x.startsWith('<message')).map((x) => bodyOf(x) ?? '');
const imEvents = () => gw.logs().filter((l) => l.msg === 'im event') as Array<Record<string, unknown>>;
const wrap = (inner: string, extra = '') => `<body rid='${++rid}' sid='${sid}' xmlns='${NS}'${extra}>${inner}</body>`;
const say = (text: string, id: string) => http.post(wrap(`<message xmlns='jabber:client' to='bob@${XMPP_DOMAIN}/t' type='chat' id='${id}'><body>${text}</body></message>`));

beforeAll(async () => {
  prosody = await Prosody.start(XMPP_USERS, { http: true });
  gw = await Gateway.start({ name: 'http-im', policy: POLICY });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  const online = await bob.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 10000);
  if (online?.ev !== 'online') throw new Error(`bob not online: ${JSON.stringify(online)}`);
  bob.send({ name: 'presence' });
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.ports.socks5, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: prosody.httpPort },
    timeout: 5000,
  });
  http = new OneSocketHttp(socket, prosody.httpPort);
}, 60000);

afterAll(async () => {
  http?.sock.destroy();
  await Promise.allSettled([bob?.stop()]);
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup()]);
});

describe('XMPP over BOSH through imgate (real Prosody mod_bosh)', () => {
  test('session creation and PLAIN login pass; the login is an xmpp/bosh event', async () => {
    const created = await http.post(`<body rid='${++rid}' to='${XMPP_DOMAIN}' xml:lang='en' wait='2' hold='0' ver='1.6' xmpp:version='1.0' xmlns='${NS}' xmlns:xmpp='urn:xmpp:xbosh'/>`);
    expect(created.status).toBe(200);
    sid = /sid=['"]([^'"]+)/.exec(created.body)?.[1] ?? '';
    expect(sid).not.toBe('');
    expect(created.body).toContain('PLAIN');
    const auth = await http.post(wrap(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alicepw').toString('base64')}</auth>`));
    expect(auth.body).toContain('<success');
    await http.post(wrap('', ` to='${XMPP_DOMAIN}' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`));
    const bind = await http.post(wrap(`<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>`));
    expect(bind.body).toContain(`alice@${XMPP_DOMAIN}/web`);
    const login = await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'login');
    expect(login).toMatchObject({ protocol: 'xmpp', app: 'bosh', account: `alice@${XMPP_DOMAIN}`, action: 'allow', door: 'socks5' });
  }, 30000);

  test('an allowed message arrives at bob; a banned one never does and alice gets an error stanza; a card number arrives masked', async () => {
    await say('hello bob via bosh', 'ok1');
    expect(await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('ok1'))).not.toBeNull();
    expect(bobBodies()).toContain('hello bob via bosh');

    const blocked = await say('the project falcon plans', 'bad1');
    await say('card 4111 1111 1111 1111 thanks', 'card1');
    expect(await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('card1'))).not.toBeNull();
    expect(bobBodies()).toContain('card **** thanks');
    // The error for the blocked one rides in a response body of this tunnel.
    const bodies = blocked.body + (await http.post(wrap(''))).body;
    expect(bodies).toMatch(/<message xmlns='jabber:client' type='error' id='bad1'[^>]*>.*policy-violation.*rule no-falcon/);
    expect(bobBodies().some((b) => /falcon/i.test(b))).toBe(false);
    expect(bobBodies().some((b) => b.includes('4111'))).toBe(false);
    const ev = imEvents().filter((e) => e.kind === 'message');
    expect(ev.map((e) => [e.app, e.text, e.action])).toEqual([
      ['bosh', 'hello bob via bosh', 'allow'],
      ['bosh', 'the project falcon plans', 'block'],
      ['bosh', 'card 4111 1111 1111 1111 thanks', 'redact'],
    ]);
  }, 30000);
});
