// Redirected mode with real software: alice's real @xmpp/client connects to
// imgate's redirect listener as if it were the XMPP server (no proxy
// handshake; imgate finds Prosody from the stream's to= domain through
// redirect.upstreams), bob connects to Prosody directly; and curl talks to an
// HTTP redirect listener whose Host the upstreams map sends to a local origin.
import { Gateway } from './helpers/gateway';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { XmppClient } from './helpers/xmpp-client';
import { startOrigin, type Origin } from './helpers/origin';
import { curl } from './helpers/curl';
import { freePorts } from './helpers/ports';

const USERS = [
  { name: 'alice', password: 'alicepw' },
  { name: 'bob', password: 'bobpw' },
];
const POLICY = `default: allow
rules:
  - id: no-falcon
    when: { kind: message, text_matches: ["(?i)project\\\\s+falcon"] }
    then: block
  - id: no-blocked-site
    when: { door: [redirect], host: ["blocked.test"] }
    then: block
`;
const BOB = `bob@${XMPP_DOMAIN}/t`;

let prosody: Prosody;
let origin: Origin;
let gw: Gateway;
let xmppPort: number;
let httpPort: number;
let alice: XmppClient;
let bob: XmppClient;

const bodyOf = (xml: string): string | null => /<body>([\s\S]*?)<\/body>/.exec(xml)?.[1] ?? null;

async function online(c: XmppClient): Promise<void> {
  const ev = await c.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 10000);
  if (ev?.ev !== 'online') throw new Error(`client not online: ${JSON.stringify(ev)} ${c.stderr}`);
}

beforeAll(async () => {
  [prosody, origin] = await Promise.all([Prosody.start(USERS), startOrigin()]);
  [xmppPort, httpPort] = (await freePorts(2)) as [number, number];
  gw = await Gateway.start({
    name: 'redirect',
    policy: POLICY,
    config: {
      redirect: {
        listeners: [
          { listen: { host: '127.0.0.1', port: xmppPort } },
          { listen: { host: '127.0.0.1', port: httpPort }, protocol: 'http' },
        ],
        upstreams: {
          [XMPP_DOMAIN]: `127.0.0.1:${prosody.c2sPort}`,
          'web.test': `127.0.0.1:${origin.port}`,
          'blocked.test': `127.0.0.1:${origin.port}`,
        },
      },
    },
  });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  alice = new XmppClient(`xmpp://127.0.0.1:${xmppPort}`, XMPP_DOMAIN, 'alice', 'alicepw');
  await Promise.all([online(bob), online(alice)]);
  bob.send({ name: 'presence' });
  alice.send({ name: 'presence' });
}, 60000);

afterAll(async () => {
  await Promise.allSettled([alice?.stop(), bob?.stop()]);
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup(), origin?.close()]);
});

describe('redirected mode', () => {
  test('the redirect listeners are up: /readyz and the listening log lines name them', async () => {
    const ready = JSON.parse((await gw.admin('/readyz')).body) as { listeners: Record<string, { state: string; port: number }> };
    expect(ready.listeners['redirect-0']).toMatchObject({ state: 'bound', port: xmppPort });
    expect(ready.listeners['redirect-1']).toMatchObject({ state: 'bound', port: httpPort });
    expect(gw.logs().filter((l) => l.msg === 'listening' && String(l.door).startsWith('redirect-')).map((l) => l.port)).toEqual([xmppPort, httpPort]);
  });

  test('alice, redirected to imgate, logs in to Prosody; her allowed message arrives at bob unchanged', async () => {
    alice.message(BOB, 'hello bob via redirect', 'ok1');
    const got = await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('id="ok1"'));
    expect(bodyOf(got?.xml as string)).toBe('hello bob via redirect');
    expect(await gw.waitLog((e) => e.msg === 'im event' && e.kind === 'login' && e.account === `alice@${XMPP_DOMAIN}` && e.door === 'redirect')).not.toBeNull();
    const msg = await gw.waitLog((e) => e.msg === 'im event' && e.kind === 'message' && e.text === 'hello bob via redirect');
    expect(msg).toMatchObject({ door: 'redirect', protocol: 'xmpp', peer: `bob@${XMPP_DOMAIN}`, action: 'allow', direction: 'out' });
  });

  test('a "project falcon" message never reaches bob; alice gets the policy-violation error stanza', async () => {
    alice.message(BOB, 'the Project Falcon plans', 'bad1');
    const err = await alice.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('id="bad1"'));
    expect(err?.xml).toMatch(/type="error"/);
    expect(err?.xml).toContain('<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(err?.xml).toMatch(/imgate policy \(rule no-falcon\)/);
    // The session keeps working: a later message arrives, the banned one never did.
    alice.message(BOB, 'marker after the blocked one', 'ok2');
    expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="ok2"'))).not.toBeNull();
    expect(bob.stanzas().some((x) => /falcon/i.test(x))).toBe(false);
    expect(await gw.waitLog((e) => e.msg === 'im event' && e.door === 'redirect' && e.action === 'block' && e.rule === 'no-falcon')).not.toBeNull();
  });

  test('curl to the HTTP redirect listener: the Host the map names reaches the local origin', async () => {
    const r = await curl(['-H', 'Host: web.test', `http://127.0.0.1:${httpPort}/via-redirect`], 10000);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('origin GET /via-redirect\n');
    const seen = origin.seen.find((s) => s.url === '/via-redirect');
    expect(seen?.headers.host).toBe('web.test');
  });

  test('curl with a Host the policy blocks: 403 from imgate, nothing reaches the origin', async () => {
    const r = await curl(['-H', 'Host: blocked.test', `http://127.0.0.1:${httpPort}/secret`], 10000);
    expect(r.status).toBe(403);
    expect(origin.seen.some((s) => s.url === '/secret')).toBe(false);
    expect(await gw.waitLog((e) => e.msg === 'blocked by policy' && e.door === 'redirect' && e.rule === 'no-blocked-site')).not.toBeNull();
  });

  test('curl with a Host nobody maps to a name that is this gateway: loop refused', async () => {
    const r = await curl(['-H', `Host: 127.0.0.1:${httpPort}`, `http://127.0.0.1:${httpPort}/loop`], 10000);
    expect(r.status).toBe(403);
    expect(await gw.waitLog((e) => e.msg === 'redirect refused' && typeof e.detail === 'string' && e.detail.startsWith('loop:'))).not.toBeNull();
  });
});
