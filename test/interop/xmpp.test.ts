// Real Prosody 0.12 (with mod_smacks) and two real @xmpp/client clients:
// bob connects directly, alice (and mallory) through imgate's SOCKS5 door,
// where the gateway's XMPP dissector decides with the example policy.
import fs from 'node:fs';
import path from 'node:path';
import { Gateway } from './helpers/gateway';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { XmppClient } from './helpers/xmpp-client';
import { SocksForwarder } from './helpers/socks-forwarder';
import { imPolicy } from './helpers/im-policy';

const USERS = [
  { name: 'alice', password: 'alicepw' },
  { name: 'bob', password: 'bobpw' },
  { name: 'mallory', password: 'mallorypw' },
];
const POLICY = imPolicy(`  - id: banned-account
    when: { account: ["mallory@${XMPP_DOMAIN}"] }
    then: block
  - id: no-files
    when: { kind: file }
    then: block
`);
const BOB = `bob@${XMPP_DOMAIN}/t`;

let prosody: Prosody;
let gw: Gateway;
let fwd: SocksForwarder;
let alice: XmppClient;
let bob: XmppClient;
const clients: XmppClient[] = [];

function bodyOf(xml: string): string | null {
  const m = /<body>([\s\S]*?)<\/body>/.exec(xml);
  return m ? (m[1] as string) : null;
}

/** The gateway's record of IM events (its 'im event' JSON log lines). */
const imEvents = () => gw.logs().filter((l) => l.msg === 'im event') as Array<Record<string, unknown>>;

const bobBodies = (): string[] => bob.stanzas().filter((x) => x.startsWith('<message')).map((x) => bodyOf(x) ?? '');

async function online(c: XmppClient): Promise<void> {
  const ev = await c.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 10000);
  if (ev?.ev !== 'online') throw new Error(`client not online: ${JSON.stringify(ev)} ${c.stderr}`);
}

beforeAll(async () => {
  prosody = await Prosody.start(USERS);
  gw = await Gateway.start({ name: 'xmpp', policy: POLICY });
  fwd = await SocksForwarder.start(gw.ports.socks5, { host: '127.0.0.1', port: prosody.c2sPort });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  alice = new XmppClient(`xmpp://127.0.0.1:${fwd.port}`, XMPP_DOMAIN, 'alice', 'alicepw');
  clients.push(bob, alice);
  await Promise.all([online(bob), online(alice)]);
  bob.send({ name: 'presence' });
  alice.send({ name: 'presence' });
}, 60000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.stop()));
  await Promise.allSettled([fwd?.close()]);
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup()]);
});

describe('XMPP through imgate with real Prosody and @xmpp/client', () => {
  test('an allowed message from alice (via the SOCKS5 door) arrives at bob unchanged', async () => {
    alice.message(BOB, 'hello bob <3 & co', 'ok1');
    const got = await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('id="ok1"'));
    expect(got).not.toBeNull();
    expect(bodyOf(got?.xml as string)).toBe('hello bob &lt;3 &amp; co');
    // The gateway recorded alice's login and the message, decided by the policy.
    // (Log lines can trail the forwarded bytes a little: wait for them.)
    expect(await gw.waitLog((e) => e.msg === 'im event' && e.kind === 'login' && e.account === `alice@${XMPP_DOMAIN}` && e.door === 'socks5')).not.toBeNull();
    const msg = await gw.waitLog((e) => e.msg === 'im event' && e.kind === 'message' && e.text === 'hello bob <3 & co');
    expect(msg).toMatchObject({ peer: `bob@${XMPP_DOMAIN}`, action: 'allow', protocol: 'xmpp', direction: 'out' });
  });

  test('a "project falcon" message never reaches bob; alice gets a policy-violation error', async () => {
    alice.message(BOB, 'the Project Falcon plans', 'bad1');
    const err = await alice.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('id="bad1"'));
    expect(err?.xml).toMatch(/type="error"/);
    expect(err?.xml).toContain('<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(err?.xml).toMatch(/imgate policy \(rule no-falcon\)/);
    alice.message(BOB, 'marker after the blocked one', 'ok2');
    expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="ok2"'))).not.toBeNull();
    expect(bobBodies().some((b) => /falcon/i.test(b))).toBe(false);
  });

  test('a card number arrives masked', async () => {
    alice.message(BOB, 'my card is 4111 1111 1111 1111, thanks', 'card1');
    const got = await bob.waitFor((e) => (e.xml ?? '').includes('id="card1"'));
    expect(bodyOf(got?.xml as string)).toBe('my card is ****, thanks');
  });

  test('mallory cannot log in through imgate', async () => {
    const fwdMallory = new XmppClient(`xmpp://127.0.0.1:${fwd.port}`, XMPP_DOMAIN, 'mallory', 'mallorypw');
    clients.push(fwdMallory);
    const ev = await fwdMallory.waitFor((e) => ['online', 'start-failed', 'error'].includes(e.ev), 10000);
    expect(ev?.ev).not.toBe('online');
    expect(ev?.condition).toBe('not-authorized');
    expect(ev?.text).toMatch(/imgate policy \(rule banned-account\)/);
    await fwdMallory.stop();
  });

  test('a file offer by alice (XEP-0363 upload slot request, SI offer) is refused', async () => {
    alice.send({
      name: 'iq',
      attrs: { type: 'get', id: 'up1', to: XMPP_DOMAIN },
      children: [{ name: 'request', attrs: { xmlns: 'urn:xmpp:http:upload:0', filename: 'secret-plans.pdf', size: '48213', 'content-type': 'application/pdf' } }],
    });
    const err = await alice.waitFor((e) => (e.xml ?? '').includes('id="up1"'));
    expect(err?.xml).toMatch(/type="error"/);
    expect(err?.xml).toContain('<forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(err?.xml).toMatch(/imgate policy \(rule no-files\)/);
    alice.send({
      name: 'iq',
      attrs: { type: 'set', id: 'si1', to: BOB },
      children: [
        {
          name: 'si',
          attrs: { xmlns: 'http://jabber.org/protocol/si', id: 's1', profile: 'http://jabber.org/protocol/si/profile/file-transfer' },
          children: [{ name: 'file', attrs: { xmlns: 'http://jabber.org/protocol/si/profile/file-transfer', name: 'payroll.xlsx', size: '1024' } }],
        },
      ],
    });
    const err2 = await alice.waitFor((e) => (e.xml ?? '').includes('id="si1"'));
    expect(err2?.xml).toContain('<forbidden');
    expect(bob.stanzas().some((x) => x.includes('payroll.xlsx'))).toBe(false);
    await gw.waitLog((e) => e.msg === 'im event' && e.kind === 'file' && (e.file as { name?: string } | undefined)?.name === 'payroll.xlsx');
    const files = imEvents().filter((e) => e.kind === 'file');
    expect(files.map((e) => e.file)).toEqual([{ name: 'secret-plans.pdf', size: 48213 }, { name: 'payroll.xlsx', size: 1024 }]);
    expect(files.every((e) => e.action === 'block' && e.rule === 'no-files')).toBe(true);
  });

  test('the session keeps working afterwards, both ways, with XEP-0198 counters intact', async () => {
    alice.message(BOB, 'still here', 'ok3');
    expect(bodyOf((await bob.waitFor((e) => (e.xml ?? '').includes('id="ok3"')))?.xml ?? '')).toBe('still here');
    bob.message(`alice@${XMPP_DOMAIN}/t`, 'hi alice', 'back1');
    expect(await alice.waitFor((e) => (e.xml ?? '').includes('id="back1"'))).not.toBeNull();
    // Inbound block: alice never sees it; bob gets the error bounced by the gateway.
    bob.message(`alice@${XMPP_DOMAIN}/t`, 'inbound project falcon', 'bad2');
    const bounced = await bob.waitFor((e) => (e.xml ?? '').includes('id="bad2"'));
    expect(bounced?.xml).toContain('<policy-violation');
    bob.message(`alice@${XMPP_DOMAIN}/t`, 'after the inbound block', 'back2');
    expect(await alice.waitFor((e) => (e.xml ?? '').includes('id="back2"'))).not.toBeNull();
    expect(alice.stanzas().some((x) => /falcon/i.test(bodyOf(x) ?? ''))).toBe(false);
    // Let prosody's ack requests (<r/>) and alice's answers go round, then ask once more.
    alice.send({ name: 'r', attrs: { xmlns: 'urn:xmpp:sm:3' } });
    await new Promise((r) => setTimeout(r, 1500));
    alice.message(BOB, 'last one', 'ok4');
    expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="ok4"'))).not.toBeNull();
    expect(alice.events.some((e) => e.ev === 'offline' || e.ev === 'error')).toBe(false);
    // Both ends agree on the counts: alice's queue is fully acked by prosody,
    // and prosody's queue for every session is fully acked by its client.
    alice.send({ name: 'r', attrs: { xmlns: 'urn:xmpp:sm:3' } });
    await new Promise((r) => setTimeout(r, 1000));
    const mark = alice.events.length;
    alice.smState();
    const sm = await alice.waitFor((e) => e.ev === 'sm', 3000, mark);
    expect(sm).toMatchObject({ enabled: true, queued: 0 });
    expect(sm?.outbound).toBeGreaterThanOrEqual(8);
    // Prosody saw the gateway's substitute pings for the suppressed stanzas,
    // never their content.
    expect(fs.readFileSync(path.join(prosody.dir, 'prosody.log'), 'utf8')).not.toMatch(/falcon|payroll|secret-plans/i);
    const log = fs.readFileSync(path.join(prosody.dir, 'prosody.log'), 'utf8');
    expect(log).not.toMatch(/acknowledged more|The client says it handled|handled-count-too-high/i);
    const lastQueue = new Map<string, number>();
    for (const m of log.matchAll(/^(\S+)\s+debug\s+#queue = (\d+) \(acked/gm)) lastQueue.set(m[1] as string, Number(m[2]));
    expect(lastQueue.size).toBeGreaterThanOrEqual(2);
    expect([...lastQueue.values()].every((q) => q === 0)).toBe(true);
  });
});
