// XEP-0198 stream management for XMPP over WebSocket (RFC 7395) through
// imgate, with real Prosody 0.12 (mod_smacks, mod_websocket):
// 1. a real @xmpp/client (Node's WebSocket) reaches Prosody through imgate's
//    HTTP redirect listener (upstreams map: Prosody's HTTP port), as an
//    operator would route a client that knows no proxy. It enables stream
//    management by itself; 24 messages each way with banned ones mixed in:
//    the banned never arrive, alice gets error stanzas for hers, bob (direct
//    to Prosody) gets one policy-violation bounce per banned message of his,
//    and both ends' acks agree although Prosody counted the bounces imgate
//    sent on alice's WebSocket (queues fully acked, no h complaint);
// 2. a WebSocket client we drive frame by frame through the HTTP door's
//    CONNECT (so the test controls every h and can cut the connection)
//    resumes its stream on a new WebSocket (a new tunnel) with <resume/>:
//    every h each side reads is in its own numbering;
// 3. XMPP over BOSH forwarded by imgate's HTTP proxy door (absolute-URI
//    POSTs, as a web client behind a proxy sends them): the counters live in
//    the sid's inspector across requests; banned messages both ways, acks
//    translated in request and response bodies.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Gateway } from './helpers/gateway';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { XmppClient } from './helpers/xmpp-client';
import { imPolicy, XMPP_USERS } from './helpers/im-policy';
import { freePort, sleep } from './helpers/ports';
import { buildFrame, WsReader } from '../../src/protocols/http';
import { parseElement } from '../../src/protocols/xmpp';
import { BoshClient } from './helpers/bosh-client';

const SM = `xmlns='urn:xmpp:sm:3'`;
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const ALICE_BARE = `alice@${XMPP_DOMAIN}`;
const BOB_BARE = `bob@${XMPP_DOMAIN}`;

const idOf = (xml: string): string | undefined => /\bid=['"]([^'"]+)['"]/.exec(xml)?.[1];
const bodyOf = (xml: string): string | null => /<body>([\s\S]*?)<\/body>/.exec(xml)?.[1] ?? null;

/** XMPP over a WebSocket we frame ourselves, through imgate's HTTP door (CONNECT). Counts stanzas like a client must. */
class RawWsXmpp {
  readonly units: string[] = [];
  inbound = 0;
  counting = false;
  private head: Buffer | null = Buffer.alloc(0);
  private upgraded: (() => void) | null = null;
  private readonly reader = new WsReader(
    's2c',
    {
      frame: (_side, f) => {
        if (f.opcode !== 1) return;
        const xml = f.payload.toString('utf8');
        this.units.push(xml);
        const local = /^<(?:[\w-]+:)?([\w-]+)/.exec(xml)?.[1] ?? '';
        if (this.counting && (local === 'message' || local === 'presence' || local === 'iq')) this.inbound++;
        if (local === 'r' && this.counting) this.write(`<a ${SM} h='${this.inbound}'/>`);
        if (local === 'enabled' || local === 'resumed') this.counting = true;
      },
      fail: (r) => this.units.push(`!fail ${r}`),
    },
    1 << 20,
  );

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', () => undefined);
  }

  static async connect(httpDoor: number, port: number): Promise<RawWsXmpp> {
    const socket = net.connect(httpDoor, '127.0.0.1');
    const c = new RawWsXmpp(socket);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      c.upgraded = resolve;
      socket.once('error', reject);
      timer = setTimeout(() => reject(new Error(`no WebSocket upgrade: ${c.head?.toString() ?? ''}`)), 8000);
      socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    }).finally(() => clearTimeout(timer));
    return c;
  }

  private onData(b: Buffer): void {
    if (this.head === null) {
      this.reader.push(b);
      return;
    }
    this.head = Buffer.concat([this.head, b]);
    for (;;) {
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.head.toString('latin1', 0, end);
      const rest = this.head.subarray(end + 4);
      if (/^HTTP\/1\.[01] 200/.test(status)) {
        // CONNECT done: the WebSocket upgrade goes to Prosody through the tunnel.
        this.head = rest;
        this.socket.write(
          'GET /xmpp-websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n',
        );
        continue;
      }
      if (/^HTTP\/1\.1 101/.test(status)) {
        this.head = null;
        this.upgraded?.();
        if (rest.length > 0) this.reader.push(rest);
      }
      return;
    }
  }

  write(s: string): void {
    if (!this.socket.destroyed) this.socket.write(buildFrame(1, Buffer.from(s, 'utf8'), true));
  }

  async waitFor(re: RegExp, from = 0, timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.units.slice(from).find((u) => re.test(u));
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}; got:\n${this.units.join('\n')}`);
      await sleep(20);
    }
  }

  /** <open/>, SASL PLAIN, <open/> again: ready to bind or resume. */
  async login(user: string, password: string): Promise<void> {
    const open = `<open xmlns='${FRAMING}' to='${XMPP_DOMAIN}' version='1.0'/>`;
    this.write(open);
    await this.waitFor(/^<stream:features/);
    const mark = this.units.length;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    await this.waitFor(/^<success/, mark);
    const mark2 = this.units.length;
    this.write(open);
    await this.waitFor(/^<stream:features/, mark2);
  }

  message(to: string, body: string, id: string): void {
    this.write(`<message xmlns='jabber:client' to='${to}' type='chat' id='${id}'><body>${body}</body></message>`);
  }

  async ackFromServer(): Promise<number> {
    const mark = this.units.length;
    this.write(`<r ${SM}/>`);
    const a = await this.waitFor(/^<a /, mark);
    return Number(/\bh=['"](\d+)['"]/.exec(a)?.[1]);
  }
}

let prosody: Prosody;
let gw: Gateway;
let redirectPort: number;
let bob: XmppClient;
const raws: RawWsXmpp[] = [];
const clients: XmppClient[] = [];

const prosodyLog = (): string => fs.readFileSync(path.join(prosody.dir, 'prosody.log'), 'utf8');

/** Prosody's last logged unacked-queue length per session (mod_smacks debug lines). */
function lastQueues(): Map<string, number> {
  const last = new Map<string, number>();
  for (const m of prosodyLog().matchAll(/^(\S+)\s+debug\s+#queue = (\d+) \(acked/gm)) last.set(m[1] as string, Number(m[2]));
  return last;
}

/** The client's XEP-0198 state once it reports SM enabled (or the last report at the deadline). */
async function smEnabled(c: XmppClient, ms: number): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + ms;
  let last: Record<string, unknown> | null = null;
  while (Date.now() < deadline) {
    const mark = c.events.length;
    c.smState();
    last = (await c.waitFor((e) => e.ev === 'sm', 2000, mark)) as Record<string, unknown> | null;
    if (last?.['enabled'] === true) return last;
    await sleep(100);
  }
  return last;
}

async function online(c: XmppClient): Promise<void> {
  const ev = await c.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 15000);
  if (ev?.ev !== 'online') throw new Error(`client not online: ${JSON.stringify(ev)} ${c.stderr}\n${gw.logs().slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
}

beforeAll(async () => {
  prosody = await Prosody.start(XMPP_USERS, { http: true });
  redirectPort = await freePort();
  gw = await Gateway.start({
    name: 'xmpp-ws-sm',
    policy: imPolicy(),
    config: {
      redirect: {
        listeners: [{ listen: { host: '127.0.0.1', port: redirectPort }, protocol: 'http', upstream: `127.0.0.1:${prosody.httpPort}` }],
        // The client's Host names the address it was sent to (the listener, as
        // under DNS redirection it would name the real server): map it to Prosody.
        upstreams: { [`127.0.0.1:${redirectPort}`]: `127.0.0.1:${prosody.httpPort}` },
      },
    },
  });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  clients.push(bob);
  await online(bob);
  bob.send({ name: 'presence' });
}, 60000);

afterAll(async () => {
  for (const r of raws) r.socket.destroy();
  await Promise.allSettled(clients.map((c) => c.stop()));
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup()]);
});

test('a real @xmpp/client over WebSocket with XEP-0198: banned messages blocked both ways, acks stay consistent over 48 messages', async () => {
  // Node 20's WebSocket is behind a flag (peers.md §4); only the client's process gets it.
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${before ?? ''} --experimental-websocket`.trim();
  const alice = new XmppClient(`ws://127.0.0.1:${redirectPort}/xmpp-websocket`, XMPP_DOMAIN, 'alice', 'alicepw');
  if (before === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = before;
  clients.push(alice);
  await online(alice);
  alice.send({ name: 'presence' });
  // 'online' may come before prosody's <enabled/> (the client enables SM after binding): ask until it is on.
  expect(await smEnabled(alice, 5000)).toMatchObject({ enabled: true });
  let mark = alice.events.length;
  // The WebSocket went through imgate's inspection (the login is an event of the websocket app).
  expect(await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'login' && l.account === ALICE_BARE && l.app === 'websocket')).not.toBeNull();

  const ALICE_FULL = `${ALICE_BARE}/t`;
  const outIds: string[] = [];
  const inIds: string[] = [];
  for (let i = 0; i < 24; i++) {
    const banned = i % 4 === 2;
    const id = `${banned ? 'bad' : 'ok'}${i}`;
    alice.message(BOB_BARE, banned ? `the project falcon part ${i}` : `hello bob ${i}`, id);
    outIds.push(id);
    const bid = `${i % 5 === 3 ? 'bbad' : 'back'}${i}`;
    bob.message(ALICE_FULL, i % 5 === 3 ? `inbound project falcon ${i}` : `hi alice ${i}`, bid);
    inIds.push(bid);
    if (i % 6 === 5) await sleep(150); // let acks (<r/>, <a h/>) interleave with the traffic
  }
  const lastOk = outIds.filter((x) => x.startsWith('ok')).at(-1) as string;
  const lastBack = inIds.filter((x) => x.startsWith('back')).at(-1) as string;
  expect(await bob.waitFor((e) => (e.xml ?? '').includes(`id="${lastOk}"`), 10000)).not.toBeNull();
  expect(await alice.waitFor((e) => (e.xml ?? '').includes(`id="${lastBack}"`), 10000)).not.toBeNull();
  // Every banned one was answered with imgate's error stanza.
  for (const id of outIds.filter((x) => x.startsWith('bad'))) {
    const err = await alice.waitFor((e) => (e.xml ?? '').includes(`id="${id}"`), 5000);
    expect(err?.xml).toMatch(/type="error"/);
    expect(err?.xml).toContain('policy-violation');
  }
  const bobGot = bob.stanzas().filter((x) => x.startsWith('<message') && !x.includes('type="error"'));
  expect(bobGot.map(idOf)).toEqual(outIds.filter((x) => x.startsWith('ok')));
  const aliceGot = alice.stanzas().filter((x) => x.startsWith('<message') && !x.includes('type="error"'));
  expect(aliceGot.map(idOf)).toEqual(inIds.filter((x) => x.startsWith('back')));
  expect([...bobGot, ...aliceGot].some((x) => /falcon/i.test(bodyOf(x) ?? ''))).toBe(false);
  // alice never saw the answers to imgate's substitute pings.
  expect(alice.stanzas().some((x) => /id="imgate-/.test(x))).toBe(false);
  // bob's banned messages never reached alice, and bob was told: each one
  // bounced back to him once, as the policy-violation error imgate sent
  // Prosody on alice's WebSocket.
  const bobBad = inIds.filter((x) => x.startsWith('bbad'));
  for (const id of bobBad) {
    const err = await bob.waitFor((e) => (e.xml ?? '').includes(`id="${id}"`), 5000);
    expect(err?.xml).toMatch(/^<message[^>]*type="error"/);
    expect(err?.xml).toContain('policy-violation');
    expect(err?.xml).toContain('rule no-falcon');
  }
  const bobErrors = (): string[] => bob.stanzas().filter((x) => x.includes('type="error"') && /id="bbad\d+"/.test(x));
  expect(bobErrors().map(idOf)).toEqual(bobBad);

  // Let the acks go round, then ask for one more and compare the counts.
  await sleep(800);
  alice.send({ name: 'r', attrs: { xmlns: 'urn:xmpp:sm:3' } });
  await sleep(800);
  mark = alice.events.length;
  alice.smState();
  const sm = await alice.waitFor((e) => e.ev === 'sm', 3000, mark);
  // Prosody acked exactly what alice sent (24 messages + presence), in her numbering: nothing queued, nothing over-acked.
  expect(sm).toMatchObject({ enabled: true, queued: 0 });
  expect(sm?.outbound).toBeGreaterThanOrEqual(25);
  expect(alice.events.some((e) => e.ev === 'offline' || e.ev === 'error' || e.ev === 'start-failed')).toBe(false);
  const log = prosodyLog();
  expect(log).not.toMatch(/acknowledged more|acknowledged less|The client says it handled|handled-count-too-high/i);
  // (The bounces name the rule, no-falcon; the banned text itself never got there.)
  expect(log).not.toMatch(/project\s+falcon/i);
  const q = lastQueues();
  expect(q.size).toBeGreaterThanOrEqual(2);
  expect([...q.values()].every((n) => n === 0)).toBe(true);
  const blocked = gw.logs().filter((l) => l.msg === 'im event' && l.app === 'websocket' && l.action === 'block');
  expect(blocked.length).toBe(6 + 5);
  // Still one bounce per banned message: none answered twice, no loop.
  expect(bobErrors().map(idOf)).toEqual(bobBad);
  await alice.stop();
}, 60000);

test('a WebSocket stream resumes on a new WebSocket (new tunnel) with <resume/>: h translated both ways, nothing lost or leaked', async () => {
  const a1 = await RawWsXmpp.connect(gw.ports.http, prosody.httpPort);
  raws.push(a1);
  await a1.login('alice', 'alicepw');
  a1.write(`<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r1</resource></bind></iq>`);
  await a1.waitFor(/^<iq[^>]*id=['"]b1['"]/);
  a1.write(`<enable ${SM} resume='true'/>`);
  const enabled = await a1.waitFor(/^<enabled /);
  const smId = /\bid=['"]([^'"]+)['"]/.exec(enabled)?.[1] as string;
  expect(enabled).toMatch(/resume=['"](true|1)['"]/);
  const ALICE = `${ALICE_BARE}/r1`;
  let sent = 0;

  a1.message(BOB_BARE, 'ws one', 'wok1');
  a1.message(BOB_BARE, 'the project falcon plans', 'wbad1');
  sent += 2;
  expect(await a1.waitFor(/^<message[^>]*type=['"]error['"]/)).toMatch(/id=['"]wbad1['"]/);
  bob.message(ALICE, 'ws back one', 'wback1');
  bob.message(ALICE, 'inbound project falcon', 'wbbad2');
  bob.message(ALICE, 'ws back two', 'wback2');
  await a1.waitFor(/id=['"]wback2['"]/);
  // bob is told about wbbad2; Prosody counted that bounce, alice's h does not.
  expect((await bob.waitFor((e) => (e.xml ?? '').includes('id="wbbad2"'), 5000))?.xml).toMatch(/type="error"[^]*policy-violation/);
  expect(await a1.ackFromServer()).toBe(sent);
  a1.message(BOB_BARE, 'more Project Falcon', 'wbad3');
  sent += 1;
  await a1.waitFor(/id=['"]wbad3['"]/);
  bob.message(ALICE, 'ws back three', 'wback3');
  await a1.waitFor(/id=['"]wback3['"]/);
  // Cut: the TCP connection under the WebSocket is gone, no <close/>.
  a1.socket.destroy();
  await sleep(700);
  bob.message(ALICE, 'ws back four', 'wback4');
  bob.message(ALICE, 'project falcon while away', 'wbbad4');
  await sleep(400);

  const a2 = await RawWsXmpp.connect(gw.ports.http, prosody.httpPort);
  raws.push(a2);
  await a2.login('alice', 'alicepw');
  a2.inbound = a1.inbound;
  const mark = a2.units.length;
  a2.write(`<resume ${SM} previd='${smId}' h='${a2.inbound}'/>`);
  const resumed = await a2.waitFor(/^<(resumed|failed) /, mark);
  expect(resumed).toMatch(/^<resumed /);
  // Prosody's h (what it handled of alice's stanzas: the substitute pings included) in alice's numbering.
  expect(Number(/\bh=['"](\d+)['"]/.exec(resumed)?.[1])).toBe(sent);
  await a2.waitFor(/id=['"]wback4['"]/, mark);
  a2.message(BOB_BARE, 'ws three', 'wok3');
  sent += 1;
  expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="wok3"'))).not.toBeNull();
  // wbbad4, queued by Prosody while alice was away and re-sent on the new WebSocket, is bounced from there.
  expect((await bob.waitFor((e) => (e.xml ?? '').includes('id="wbbad4"'), 5000))?.xml).toMatch(/type="error"[^]*policy-violation/);
  expect(await a2.ackFromServer()).toBe(sent);
  a2.write(`<a ${SM} h='${a2.inbound}'/>`);
  await sleep(800);

  const units = [...a1.units, ...a2.units];
  const got = units.filter((u) => u.startsWith('<message') && !/type=['"]error['"]/.test(u));
  expect(got.map(idOf)).toEqual(['wback1', 'wback2', 'wback3', 'wback4']);
  expect(got.some((u) => /falcon/i.test(bodyOf(u) ?? ''))).toBe(false);
  expect(units.some((u) => /id=['"]imgate-/.test(u) || u.startsWith('!fail'))).toBe(false);
  const bobGot = bob.stanzas().filter((x) => x.startsWith('<message') && !x.includes('type="error"') && /id="wok/.test(x));
  expect(bobGot.map(idOf)).toEqual(['wok1', 'wok3']);
  const log = prosodyLog();
  expect(log).toMatch(/mod_smacks resuming existing session/);
  expect(log).not.toMatch(/acknowledged more|acknowledged less|The client says it handled|handled-count-too-high|Tried to resume|project\s+falcon/i);
  expect(bob.stanzas().filter((x) => x.includes('type="error"') && /id="wbbad/.test(x)).map(idOf)).toEqual(['wbbad2', 'wbbad4']);
  const q = lastQueues();
  expect([...q.values()].every((n) => n === 0)).toBe(true);
  expect(a2.socket.destroyed).toBe(false);
}, 60000);

test('XMPP over BOSH forwarded by the HTTP door with XEP-0198: banned messages both ways, counts agree across requests', async () => {
  const alice = new BoshClient({ url: prosody.boshUrl, domain: XMPP_DOMAIN, user: 'alice', password: 'alicepw', resource: 'bosh', proxyPort: gw.ports.http, wait: 5 });
  try {
    await alice.login();
    const mark0 = alice.responses.length;
    await alice.send(`<enable ${SM} resume='true'/>`);
    const enabled = await alice.waitFor((r) => alice.responses.indexOf(r) >= mark0 && r.body.includes('<enabled'), 5000);
    expect(enabled).not.toBeNull();
    const enabledRid = enabled?.rid as number;
    /** alice's count of stanzas handled since <enabled/>, reading responses in rid order as a BOSH client does. */
    const handled = (): string[] => {
      const xml: string[] = [];
      for (const r of [...alice.responses].sort((a, b) => a.rid - b.rid)) {
        if (r.rid < enabledRid) continue;
        let after = r.rid > enabledRid;
        const root = parseElement(r.body);
        for (const c of root?.children ?? []) {
          if (c.local === 'enabled') after = true;
          else if (after && (c.local === 'message' || c.local === 'presence' || c.local === 'iq')) xml.push(r.body.slice(c.start, c.end));
        }
      }
      return xml;
    };
    const ALICE = `${ALICE_BARE}/bosh`;
    let sent = 0;
    const outIds: string[] = [];
    const inIds: string[] = [];
    for (let i = 0; i < 24; i++) {
      const bad = i % 5 === 2;
      const id = `${bad ? 'fbad' : 'fok'}${i}`;
      outIds.push(id);
      await alice.send(`<message xmlns='jabber:client' to='${BOB_BARE}' type='chat' id='${id}'><body>${bad ? `project falcon ${i}` : `bosh hello ${i}`}</body></message>`);
      sent++;
      if (i % 3 === 1) {
        const bid = `${i % 6 === 4 ? 'fbbad' : 'fback'}${i}`;
        inIds.push(bid);
        bob.message(ALICE, i % 6 === 4 ? `inbound project falcon ${i}` : `to bosh alice ${i}`, bid);
      }
    }
    const lastOk = outIds.filter((x) => x.startsWith('fok')).at(-1) as string;
    const lastBack = inIds.filter((x) => x.startsWith('fback')).at(-1) as string;
    expect(await bob.waitFor((e) => (e.xml ?? '').includes(`id="${lastOk}"`), 10000)).not.toBeNull();
    expect(await alice.waitFor((r) => r.body.includes(`id='${lastBack}'`) || r.body.includes(`id="${lastBack}"`), 10000)).not.toBeNull();
    const bads = outIds.filter((x) => x.startsWith('fbad'));
    for (const id of bads) expect(await alice.waitFor((r) => new RegExp(`type=['"]error['"][^>]*id=['"]${id}['"]`).test(r.body), 5000)).not.toBeNull();
    const bobGot = bob.stanzas().filter((x) => x.startsWith('<message') && !x.includes('type="error"') && /id="f/.test(x));
    expect(bobGot.map(idOf)).toEqual(outIds.filter((x) => x.startsWith('fok')));
    const got = handled();
    const aliceMsgs = got.filter((x) => x.startsWith('<message') && !/type=['"]error['"]/.test(x));
    expect(aliceMsgs.map(idOf)).toEqual(inIds.filter((x) => x.startsWith('fback')));
    expect(got.some((x) => /falcon/i.test(bodyOf(x) ?? '') || /id=['"]imgate-/.test(x))).toBe(false);
    // bob's banned ones were bounced to him, once each, in alice's next requests.
    const bobBad = inIds.filter((x) => x.startsWith('fbbad'));
    for (const id of bobBad) expect((await bob.waitFor((e) => (e.xml ?? '').includes(`id="${id}"`), 5000))?.xml).toMatch(/type="error"[^]*policy-violation/);

    // Prosody's h for alice's stanzas, as alice reads it: everything she sent.
    const mark = alice.responses.length;
    await alice.send(`<r ${SM}/>`);
    const ack = await alice.waitFor((r) => alice.responses.indexOf(r) >= mark && /<a [^>]*h=/.test(r.body), 5000);
    expect(Number(/<a [^>]*h=['"](\d+)['"]/.exec(ack?.body ?? '')?.[1])).toBe(sent);
    // alice's h for Prosody's stanzas (gateway errors in, blocked inbound out): Prosody accepts it and empties its queue.
    await sleep(500);
    await alice.send(`<a ${SM} h='${handled().length}'/>`);
    await sleep(600);
    const log = prosodyLog();
    expect(log).not.toMatch(/acknowledged more|acknowledged less|The client says it handled|handled-count-too-high/i);
    const q = lastQueues();
    expect([...q.values()].every((n) => n === 0)).toBe(true);
    // Still up.
    await alice.send(`<message xmlns='jabber:client' to='${BOB_BARE}' type='chat' id='flast'><body>still here</body></message>`);
    expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="flast"'), 5000)).not.toBeNull();
    expect(bob.stanzas().filter((x) => x.includes('type="error"') && /id="fbbad/.test(x)).map(idOf)).toEqual(bobBad);
    expect(await gw.waitLog((l) => l.msg === 'im event' && l.app === 'bosh' && l.action === 'block' && l.direction === 'in')).not.toBeNull();
  } finally {
    await alice.stop();
  }
}, 60000);
