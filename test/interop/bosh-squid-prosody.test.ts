// XMPP over BOSH as a web client sends it in an enterprise: two browsers'
// worth of BOSH sessions (alice and bob) go through Squid as their forward
// proxy (Basic proxy auth), Squid hands every request and response to
// imgate's ICAP door (REQMOD + RESPMOD), and the connection manager is a real
// Prosody 0.12 with mod_bosh. Policy: block "project falcon", mask card
// numbers. What the users see is read from their own BOSH responses.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Gateway, type LogLine } from './helpers/gateway';
import { Squid } from './helpers/squid';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { BoshClient, messageBodies, type BoshResponse } from './helpers/bosh-client';
import { imPolicy, XMPP_USERS } from './helpers/im-policy';
import { parseElement } from '../../src/protocols/xmpp';

const ALICE = `alice@${XMPP_DOMAIN}`;
const BOB = `bob@${XMPP_DOMAIN}`;
// carol exists in Prosody but policy refuses her login: the whole-request block answer.
// dave's client enables XEP-0198 stream management (the last test).
const USERS = [...XMPP_USERS, { name: 'carol', password: 'carolpw' }, { name: 'dave', password: 'davepw' }];
const POLICY = imPolicy(`  - id: no-carol-login
    when: { kind: login, account: ["carol*"] }
    then: block
  - id: no-inbound-secret
    when: { kind: message, direction: [in], text_matches: ["(?i)inbound secret"] }
    then: block
`);

let prosody: Prosody;
let gw: Gateway;
let squid: Squid;
let alice: BoshClient;
let bob: BoshClient;

const client = (name: string): BoshClient => {
  const u = USERS.find((x) => x.name === name);
  if (u === undefined) throw new Error(`no user ${name}`);
  return new BoshClient({
    url: prosody.boshUrl,
    domain: XMPP_DOMAIN,
    user: u.name,
    password: u.password,
    proxyPort: squid.port,
    proxyAuth: u,
    wait: 5,
  });
};

const message = (id: string, text: string): string =>
  `<message xmlns='jabber:client' to='${BOB}' type='chat' id='${id}'><body>${text}</body></message>`;
const hasId = (id: string) => (r: BoshResponse): boolean => new RegExp(`<message\\b[^>]*\\bid=['"]${id}['"]`).test(r.body);
const imEvents = (): LogLine[] => gw.logs().filter((l) => l.msg === 'im event');

beforeAll(async () => {
  prosody = await Prosody.start(USERS, { http: true });
  gw = await Gateway.start({ name: 'bosh-squid', policy: POLICY, config: { audit: { flush_interval_ms: 100 } } });
  squid = await Squid.start({ icapPort: gw.ports.icap, users: USERS, name: 'squid-bosh' });
  alice = client('alice');
  bob = client('bob');
  await bob.login();
  await alice.login();
}, 60000);

afterAll(async () => {
  await Promise.allSettled([alice?.stop(), bob?.stop()]);
  await Promise.allSettled([squid?.cleanup()]);
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup()]);
}, 30000);


/** The admin API's answer (bearer token from data_dir), parsed. */
function adminGet(p: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const token = fs.readFileSync(path.join(gw.dir, 'var', 'admin-token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: gw.ports.admin, path: p, agent: false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
        } catch {
          reject(new Error(`admin ${p}: ${res.statusCode} ${text.slice(0, 300)}`));
        }
      });
    });
    req.on('error', reject);
  });
}

/** Waits for a decided message event (logged) whose text is `text`, in the given direction. */
const eventFor = (text: string, direction: 'out' | 'in'): Promise<LogLine | null> =>
  gw.waitLog((l) => l.msg === 'im event' && l.kind === 'message' && l.text === text && l.direction === direction, 5000);

test('alice and bob log in with SASL PLAIN over BOSH through Squid; imgate sees both logins', async () => {
  expect(alice.jid).toBe(`${ALICE}/web`);
  expect(bob.jid).toBe(`${BOB}/web`);
  const logins = imEvents().filter((l) => l.kind === 'login');
  // The SASL PLAIN authcid joined to the session-creation domain is the account;
  // the user is Squid's authenticated proxy user.
  expect(logins.map((l) => [l.door, l.app, l.protocol, l.user, l.account, l.action])).toEqual([
    ['icap', 'xmpp-bosh', 'xmpp', 'bob', BOB, 'allow'],
    ['icap', 'xmpp-bosh', 'xmpp', 'alice', ALICE, 'allow'],
  ]);
});

test('a clean message from alice arrives at bob unchanged, and both directions are recorded', async () => {
  const text = 'hello bob, lunch at noon? <ok> & thanks';
  const sent = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  await alice.send(message('ok1', sent));
  const got = await bob.waitFor(hasId('ok1'));
  expect(got).not.toBeNull();
  const stanza = /<message\b[^>]*\bid='ok1'[^>]*>/.exec(got?.body ?? '')?.[0] ?? '';
  expect(stanza).toContain(`from='${ALICE}/web'`);
  expect(messageBodies(got?.body ?? '')).toEqual([sent]);
  const out = await eventFor(text, 'out');
  // The account comes from alice's SASL login earlier in the same BOSH session (sid).
  expect(out).toMatchObject({ door: 'icap', app: 'xmpp-bosh', protocol: 'xmpp', user: 'alice', account: ALICE, peer: BOB, action: 'allow' });
  // Bob's copy is inspected in RESPMOD: Prosody stamped alice's JID on it.
  const inbound = await eventFor(text, 'in');
  expect(inbound).toMatchObject({ door: 'icap', app: 'xmpp-bosh', user: 'bob', account: BOB, peer: ALICE, action: 'allow' });
});

test('a banned message never reaches bob; the rest of the session goes on', async () => {
  const aliceFrom = alice.responses.length;
  const r = await alice.send(message('bad1', 'the project falcon plans'));
  // The stanza is cut out of the wrapper in REQMOD; Prosody answers the (now empty) request as usual.
  expect(r.status).toBe(200);
  // (Prosody's attribute order varies, so the wrapper is checked attribute by attribute.)
  // Its content is empty or imgate's error stanza for bad1 (whichever response of the sid came first).
  const wrapper = /^<body\b([^>]*)>([\s\S]*)<\/body>$/.exec(r.body);
  expect(wrapper).not.toBeNull();
  expect(wrapper?.[1]).toContain(`sid='${alice.sid}'`);
  expect(wrapper?.[1]).toContain("xmlns='http://jabber.org/protocol/httpbind'");
  expect(wrapper?.[1]).not.toMatch(/type=/);
  expect(wrapper?.[2]).toMatch(/^(<message type='error' id='bad1'[\s\S]*<\/message>)?$/);
  // The same session still works afterwards: the rid sequence was not broken.
  await alice.send(message('ok2', 'after the blocked one'));
  expect(await bob.waitFor(hasId('ok2'))).not.toBeNull();
  expect(bob.received()).not.toMatch(/falcon|bad1/i);
  const ev = await eventFor('the project falcon plans', 'out');
  expect(ev).toMatchObject({ door: 'icap', app: 'xmpp-bosh', user: 'alice', account: ALICE, peer: BOB, action: 'block', rule: 'no-falcon' });
  // (alice does get imgate's error stanza naming the rule no-falcon: see the next test.)
  expect(alice.received(aliceFrom)).not.toMatch(/project falcon/i);
});

// As on the SOCKS5 path, alice's client gets a policy-violation error stanza
// for the refused message: imgate puts it in the next response of her BOSH session.
test("alice's client is told the banned message was refused (error stanza for id bad1)", async () => {
  const err = await alice.waitFor((x) => /<message\b[^>]*type=['"]error['"][^>]*id=['"]bad1['"][\s\S]*policy-violation/.test(x.body), 3000);
  expect(err).not.toBeNull();
  const stanza = /<message\b[^>]*id='bad1'[\s\S]*?<\/message>/.exec(err?.body ?? '')?.[0];
  expect(stanza).toBe(
    `<message type='error' id='bad1' to='${ALICE}' from='${BOB}'><error type='modify'>` +
      "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
      "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Message blocked by imgate policy (rule no-falcon)</text></error></message>",
  );
  // Exactly once, and never the banned text.
  expect(alice.received().match(/id='bad1'/g)).toHaveLength(1);
  expect(alice.received()).not.toMatch(/falcon plans/i);
});

test('a card number arrives at bob masked', async () => {
  await alice.send(message('card1', 'card 4111 1111 1111 1111 thanks'));
  const got = await bob.waitFor(hasId('card1'));
  expect(messageBodies(got?.body ?? '')).toEqual(['card **** thanks']);
  expect(bob.received()).not.toContain('4111');
  expect(await eventFor('card 4111 1111 1111 1111 thanks', 'out')).toMatchObject({ user: 'alice', peer: BOB, action: 'redact', rule: 'mask-cards' });
  expect(await eventFor('card **** thanks', 'in')).toMatchObject({ user: 'bob', account: BOB, peer: ALICE, action: 'allow' });
});

test("a refused login gets imgate's BOSH block answer and never reaches Prosody", async () => {
  const carol = client('carol');
  await carol.createSession();
  const r = await carol.authenticate();
  expect(r.status).toBe(200);
  expect(r.body).toBe("<body type='terminate' condition='policy-violation' xmlns='http://jabber.org/protocol/httpbind'/>");
  expect(r.headers['content-type']).toBe('text/xml; charset=utf-8');
  expect(r.headers['x-imgate-rule']).toBe('no-carol-login');
  const ev = await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'login' && l.account === `carol@${XMPP_DOMAIN}`);
  expect(ev).toMatchObject({ door: 'icap', user: 'carol', action: 'block', rule: 'no-carol-login' });
  expect(r.headers['x-imgate-reference']).toBe(ev?.event);
  await carol.stop();
  // Prosody's debug log names every authenticated JID: alice's, never carol's.
  expect(prosody.daemon.stdout()).toMatch(/alice@imgate\.test/);
  expect(prosody.daemon.stdout()).not.toMatch(/carol@imgate\.test/);
});

test('the record store holds the BOSH events with user, peer and verdict', async () => {
  const deadline = Date.now() + 5000;
  let rows: Array<Record<string, unknown>> = [];
  while (Date.now() < deadline) {
    const r = await adminGet(`/api/events?q=${encodeURIComponent('project falcon')}`);
    expect(r.status).toBe(200);
    rows = (r.json.events as Array<Record<string, unknown>>) ?? [];
    if (rows.length > 0) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ door: 'icap', app: 'xmpp-bosh', protocol: 'xmpp', user: 'alice', account: ALICE, peer: BOB, kind: 'message', action: 'block', rule: 'no-falcon', text: 'the project falcon plans' });
});

test("every request went through Squid and Squid's ICAP log has no errors", () => {
  const access = squid.accessLog().split('\n').filter((l) => l.includes('/http-bind'));
  const url = `POST ${prosody.boshUrl}`;
  expect(access.filter((l) => l.includes(url) && / alice /.test(l)).length).toBeGreaterThanOrEqual(8);
  expect(access.filter((l) => l.includes(url) && / bob /.test(l)).length).toBeGreaterThanOrEqual(6);
  // Squid answered carol's refused login itself (the request never left it); everything else went to Prosody.
  for (const l of access) {
    if (/ carol /.test(l) && /NONE_NONE/.test(l)) expect(l).toMatch(/NONE_NONE\/200 \d+ POST \S+ carol HIER_NONE\//);
    else expect(l).toMatch(/TCP_MISS\/200 \d+ POST \S+ (alice|bob|carol) HIER_DIRECT\/127\.0\.0\.1 /);
  }
  expect(access.filter((l) => / carol HIER_NONE\//.test(l))).toHaveLength(1);
  const icap = squid.icapLog();
  expect(icap).not.toMatch(/ICAP_ERR|\/5\d\d /);
  // Two REQMOD rewrites (the cut stanza, the masked card) and one whole-request block (carol's login).
  expect(icap.match(/ICAP_MOD\/200 \d+ REQMOD .* alice /g)?.length).toBe(2);
  expect(icap).toMatch(/REQMOD .* carol /);
  expect(icap).toMatch(/RESPMOD .* bob /);
});

// XEP-0198 over BOSH through Squid and the ICAP door (Prosody 0.12 offers
// mod_smacks on BOSH sessions once authenticated). dave enables stream
// management; banned messages in the middle of 24 are refused: imgate hands
// Prosody a ping in their place and gives dave the error stanza in place of
// the ping's answer, so both counts stay equal and no h is rewritten.
test('XEP-0198 over BOSH: banned messages in the middle, the session stays up and both ends agree on every count', async () => {
  const SM = "xmlns='urn:xmpp:sm:3'";
  const DAVE = `dave@${XMPP_DOMAIN}`;
  const dave = client('dave');
  try {
    await dave.login();
    const en = await dave.send(`<enable ${SM} resume='true'/>`);
    const enabled = en.body.includes('<enabled') ? en : await dave.waitFor((r) => r.body.includes('<enabled'), 5000);
    expect(enabled?.body).toMatch(/<enabled [^>]*resume=['"](true|1)['"]/);
    const enabledRid = enabled?.rid as number;

    /** dave's count of stanzas handled since <enabled/>: every response in rid order, as a BOSH client reads them. */
    const handled = (): { count: number; xml: string[] } => {
      const xml: string[] = [];
      let count = 0;
      for (const r of [...dave.responses].sort((a, b) => a.rid - b.rid)) {
        if (r.rid < enabledRid) continue;
        const root = parseElement(r.body);
        let after = r.rid > enabledRid;
        for (const c of root?.children ?? []) {
          if (c.local === 'enabled') after = true;
          else if (after && (c.local === 'message' || c.local === 'presence' || c.local === 'iq')) {
            count++;
            xml.push(r.body.slice(c.start, c.end));
          }
        }
      }
      return { count, xml };
    };

    let sent = 0;
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const banned = i % 6 === 3;
      const id = `${banned ? 'smbad' : 'smok'}${i}`;
      ids.push(id);
      await dave.send(`<message xmlns='jabber:client' to='${BOB}' type='chat' id='${id}'><body>${banned ? `project falcon item ${i}` : `sm hello ${i}`}</body></message>`);
      sent++;
      if (i % 8 === 7) {
        // bob writes back now and then: dave counts those too.
        await bob.send(`<message xmlns='jabber:client' to='${DAVE}/web' type='chat' id='smback${i}'><body>back ${i}</body></message>`);
      }
      if (i % 8 === 4) {
        // Refused on the way in (RESPMOD of dave's session): dave must not read it, yet counts something in its place.
        await bob.send(`<message xmlns='jabber:client' to='${DAVE}/web' type='chat' id='smin${i}'><body>an inbound secret ${i}</body></message>`);
      }
    }
    const oks = ids.filter((x) => x.startsWith('smok'));
    const bads = ids.filter((x) => x.startsWith('smbad'));
    expect(await bob.waitFor(hasId(oks.at(-1) as string), 10000)).not.toBeNull();
    expect(await dave.waitFor((r) => r.body.includes('smback23'), 10000)).not.toBeNull();
    // Each banned message was answered with imgate's error stanza, once; none reached bob.
    for (const id of bads) {
      const err = await dave.waitFor((r) => new RegExp(`<message\\b[^>]*type=['"]error['"][^>]*id=['"]${id}['"]`).test(r.body), 5000);
      expect(err).not.toBeNull();
    }
    expect(dave.received().match(/type='error' id='smbad\d+'/g)).toHaveLength(bads.length);
    expect(bob.received()).not.toMatch(/project falcon item/);
    for (const id of oks) expect(bob.received()).toContain(`id='${id}'`);
    // dave never saw the answers to imgate's pings, nor the inbound secrets (a bodiless message stands in for each).
    expect(dave.received()).not.toMatch(/imgate-b\d/);
    expect(dave.received()).not.toMatch(/inbound secret/);
    expect(dave.received().match(/<message xmlns='jabber:client' id='imgate-s\d+' from='bob@imgate\.test\/web' to='dave@imgate\.test\/web' type='chat'\/>/g)).toHaveLength(3);
    expect(await gw.waitLog((l) => l.msg === 'im event' && l.user === 'dave' && l.direction === 'in' && l.rule === 'no-inbound-secret')).not.toBeNull();

    // Prosody's count of dave's stanzas (its <a h/>) equals dave's own: the substitute pings kept it.
    const mark = dave.responses.length;
    await dave.send(`<r ${SM}/>`);
    // The answer rides in whichever response of the sid Prosody sends next (the held poll or this one).
    const ack = await dave.waitFor((r) => dave.responses.indexOf(r) >= mark && /<a [^>]*h=/.test(r.body), 5000);
    expect(Number(/<a [^>]*h=['"](\d+)['"]/.exec(ack?.body ?? '')?.[1])).toBe(sent);
    // dave's count of Prosody's stanzas: Prosody accepts it (no "handled more than we sent") and empties its queue.
    await new Promise((r) => setTimeout(r, 500));
    const mine = handled();
    expect(mine.xml.filter((x) => x.startsWith('<message') && x.includes("type='error'"))).toHaveLength(bads.length);
    await dave.send(`<a ${SM} h='${mine.count}'/>`);
    await new Promise((r) => setTimeout(r, 500));
    const log = prosody.daemon.stdout();
    expect(log).not.toMatch(/acknowledged more|acknowledged less|The client says it handled|handled-count-too-high/i);
    const queues = [...log.matchAll(/^(\S+)\s+debug\s+#queue = (\d+) \(acked/gm)];
    expect(queues.length).toBeGreaterThan(0);
    expect(Number(queues.at(-1)?.[2])).toBe(0);
    // The session is still up: one more message arrives.
    await dave.send(`<message xmlns='jabber:client' to='${BOB}' type='chat' id='smlast'><body>still here</body></message>`);
    expect(await bob.waitFor(hasId('smlast'), 5000)).not.toBeNull();
    expect(dave.received()).not.toMatch(/type=['"]terminate['"]/);
  } finally {
    await dave.stop();
  }
}, 60000);
