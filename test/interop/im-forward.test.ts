// IM over port 80 handed to imgate the way Squid hands it: real Squid with
// `cache_peer 127.0.0.1 parent <imgate http door>` + never_direct, so every
// BOSH POST reaches imgate as an absolute-URI request (no CONNECT, no
// tunnel). alice speaks BOSH to real Prosody (mod_bosh) through Squid; bob
// is a direct @xmpp/client session. Each request is a separate forwarded
// exchange: the gateway follows the BOSH session by its sid.
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { Gateway, IMGATE_BIN } from './helpers/gateway';
import { sleep } from './helpers/ports';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { Squid } from './helpers/squid';
import { XmppClient } from './helpers/xmpp-client';
import { imPolicy, XMPP_USERS } from './helpers/im-policy';

const POLICY = imPolicy(`  - id: no-banned-site
    when: { url_matches: ["/banned-path"] }
    then: block
`);
const NS = 'http://jabber.org/protocol/httpbind';

let prosody: Prosody;
let gw: Gateway;
let squid: Squid;
let bob: XmppClient;
let rid = 7000;
let sid = '';

/** One absolute-URI POST through Squid (a fresh request each time, as a browser's BOSH library sends). */
function viaSquid(body: string, path = '/http-bind'): Promise<{ status: number; body: string }> {
  const b = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: squid.port,
        method: 'POST',
        path: `http://127.0.0.1:${prosody.httpPort}${path}`,
        headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': b.length },
        agent: false,
        timeout: 15000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(b);
  });
}

const bodyOf = (xml: string): string | null => /<body>([\s\S]*?)<\/body>/.exec(xml)?.[1] ?? null;
const bobBodies = (): string[] => bob.stanzas().filter((x) => x.startsWith('<message')).map((x) => bodyOf(x) ?? '');
const imEvents = () => gw.logs().filter((l) => l.msg === 'im event') as Array<Record<string, unknown>>;
const wrap = (inner: string, extra = '') => `<body rid='${++rid}' sid='${sid}' xmlns='${NS}'${extra}>${inner}</body>`;
const say = (text: string, id: string) => viaSquid(wrap(`<message xmlns='jabber:client' to='bob@${XMPP_DOMAIN}/t' type='chat' id='${id}'><body>${text}</body></message>`));

beforeAll(async () => {
  prosody = await Prosody.start(XMPP_USERS, { http: true });
  gw = await Gateway.start({ name: 'im-forward', policy: POLICY });
  squid = await Squid.start({ parentPort: gw.ports.http, name: 'squid-im-forward' });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  const online = await bob.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 10000);
  if (online?.ev !== 'online') throw new Error(`bob not online: ${JSON.stringify(online)}`);
  bob.send({ name: 'presence' });
}, 90000);

afterAll(async () => {
  await Promise.allSettled([bob?.stop()]);
  await Promise.allSettled([squid?.cleanup(), gw?.cleanup(), prosody?.cleanup()]);
});

describe('BOSH through Squid chained to imgate (absolute-URI requests, real Prosody)', () => {
  test('session creation and PLAIN login pass through Squid; the login is an xmpp/bosh event of the http door', async () => {
    const created = await viaSquid(`<body rid='${++rid}' to='${XMPP_DOMAIN}' xml:lang='en' wait='2' hold='0' ver='1.6' xmpp:version='1.0' xmlns='${NS}' xmlns:xmpp='urn:xmpp:xbosh'/>`);
    expect(created.status).toBe(200);
    sid = /sid=['"]([^'"]+)/.exec(created.body)?.[1] ?? '';
    expect(sid).not.toBe('');
    const auth = await viaSquid(wrap(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0alicepw').toString('base64')}</auth>`));
    expect(auth.body).toContain('<success');
    await viaSquid(wrap('', ` to='${XMPP_DOMAIN}' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`));
    const bind = await viaSquid(wrap(`<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>`));
    expect(bind.body).toContain(`alice@${XMPP_DOMAIN}/web`);
    const login = await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'login');
    expect(login).toMatchObject({ protocol: 'xmpp', app: 'bosh', account: `alice@${XMPP_DOMAIN}`, action: 'allow', door: 'http' });
    // Squid really used imgate as its parent for these POSTs.
    expect(squid.accessLog()).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/http-bind .*FIRSTUP_PARENT\/127\.0\.0\.1/);
  }, 30000);

  test('an allowed message arrives at bob; a banned one never does and alice gets an error stanza; a card number arrives masked', async () => {
    await say('hello bob via squid', 'ok1');
    expect(await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('ok1'))).not.toBeNull();
    expect(bobBodies()).toContain('hello bob via squid');

    const blocked = await say('the project falcon plans', 'bad1');
    await say('card 4111 1111 1111 1111 thanks', 'card1');
    expect(await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('card1'))).not.toBeNull();
    expect(bobBodies()).toContain('card **** thanks');
    // The error for the blocked stanza rides in a later response of the same BOSH session.
    const bodies = blocked.body + (await viaSquid(wrap(''))).body;
    expect(bodies).toMatch(/<message xmlns='jabber:client' type='error' id='bad1'[^>]*>.*policy-violation.*rule no-falcon/);
    expect(bobBodies().some((b) => /falcon/i.test(b))).toBe(false);
    expect(bobBodies().some((b) => b.includes('4111'))).toBe(false);
    const ev = imEvents().filter((e) => e.kind === 'message');
    expect(ev.map((e) => [e.app, e.account, e.text, e.action, e.door])).toEqual([
      ['bosh', `alice@${XMPP_DOMAIN}`, 'hello bob via squid', 'allow', 'http'],
      ['bosh', `alice@${XMPP_DOMAIN}`, 'the project falcon plans', 'block', 'http'],
      ['bosh', `alice@${XMPP_DOMAIN}`, 'card 4111 1111 1111 1111 thanks', 'redact', 'http'],
    ]);
  }, 30000);

  test('a forwarded request blocked by a URL rule is refused and recorded in the store (imgate search)', async () => {
    const r = await viaSquid('<x/>', '/banned-path');
    expect(r.status).toBe(403);
    expect(await gw.waitLog((l) => l.msg === 'blocked by policy' && l.rule === 'no-banned-site')).not.toBeNull();
    // The pre-dial block reaches the record store, beside the IM events.
    type Row = Record<string, unknown>;
    let rows: Row[] = [];
    for (const deadline = Date.now() + 8000; Date.now() < deadline; await sleep(250)) {
      const out = spawnSync(process.execPath, [IMGATE_BIN, 'search', '', '--json', '--config', gw.configPath], { encoding: 'utf8', timeout: 20000 });
      rows = out.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
      if (rows.some((r) => r.rule === 'no-banned-site')) break;
    }
    expect(rows.find((r) => r.rule === 'no-banned-site')).toMatchObject({ kind: 'http', action: 'block', door: 'http', method: 'POST', url: `http://127.0.0.1:${prosody.httpPort}/banned-path` });
    expect(rows.filter((r) => r.kind === 'message').map((r) => [r.text, r.action])).toEqual(
      expect.arrayContaining([['the project falcon plans', 'block'], ['card 4111 1111 1111 1111 thanks', 'redact']]),
    );
  }, 30000);
});
