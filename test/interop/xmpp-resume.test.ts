// XEP-0198 stream resumption through imgate with real Prosody (mod_smacks):
// alice speaks raw XMPP through imgate's SOCKS5 door (so the test controls
// every h and can cut the TCP connection at will); bob is a real
// @xmpp/client connected directly. Banned stanzas are suppressed both ways on
// the first connection, alice's socket is destroyed, bob writes to her while
// she is gone (one banned), and she resumes on a new tunnel with previd:
// prosody must accept (<resumed/>), the h values each side sees must be in
// its own numbering, nothing is lost or duplicated, nothing banned gets
// through, and prosody's queues end fully acked with no h complaint.
import fs from 'node:fs';
import path from 'node:path';
import type net from 'node:net';
import { SocksClient } from 'socks';
import { Gateway } from './helpers/gateway';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { XmppClient } from './helpers/xmpp-client';
import { imPolicy, XMPP_USERS } from './helpers/im-policy';
import { sleep } from './helpers/ports';
import { XmlUnitTokenizer } from '../../src/protocols/xmpp/tokenizer';

const SM = `xmlns='urn:xmpp:sm:3'`;
const OPEN = `<?xml version='1.0'?><stream:stream to='${XMPP_DOMAIN}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
const ALICE = `alice@${XMPP_DOMAIN}/r1`;
const BOB_BARE = `bob@${XMPP_DOMAIN}`;

/** One raw c2s connection through the SOCKS5 door, counting XEP-0198 stanzas like a client must. */
class RawXmpp {
  readonly units: string[] = [];
  /** Stanzas handled since <enabled/> (or the h stated at <resume/>). */
  inbound = 0;
  counting = false;
  private readonly tok = new XmlUnitTokenizer(
    {
      unit: (kind, bytes, _start, name) => {
        if (kind !== 'stanza' && kind !== 'header') return;
        const xml = bytes.toString('utf8');
        this.units.push(xml);
        const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
        if (this.counting && (local === 'message' || local === 'presence' || local === 'iq')) this.inbound++;
        // Prosody asks for acks; a client must answer with what it handled.
        if (local === 'r' && this.counting) this.write(`<a ${SM} h='${this.inbound}'/>`);
        if (local === 'enabled' || local === 'resumed') this.counting = true;
      },
      overflow: () => undefined,
    },
    1 << 20,
  );

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => this.tok.push(b));
    socket.on('error', () => undefined);
  }

  static async connect(socksPort: number, xmppPort: number): Promise<RawXmpp> {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: xmppPort },
      timeout: 5000,
    });
    return new RawXmpp(socket);
  }

  write(s: string): void {
    if (!this.socket.destroyed) this.socket.write(s);
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

  /** Opens the stream, authenticates with PLAIN and restarts it (no bind yet). */
  async login(user: string, password: string): Promise<void> {
    this.write(OPEN);
    await this.waitFor(/^<stream:features/);
    const mark = this.units.length;
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    await this.waitFor(/^<success/, mark);
    const mark2 = this.units.length;
    this.write(OPEN);
    await this.waitFor(/^<stream:features/, mark2);
  }

  message(to: string, body: string, id: string): void {
    this.write(`<message to='${to}' type='chat' id='${id}'><body>${body}</body></message>`);
  }

  /** Asks the server for an ack; resolves with the h it states. */
  async ackFromServer(): Promise<number> {
    const mark = this.units.length;
    this.write(`<r ${SM}/>`);
    const a = await this.waitFor(/^<a /, mark);
    return Number(/\bh=['"](\d+)['"]/.exec(a)?.[1]);
  }
}

const idOf = (xml: string): string | undefined => /\bid=['"]([^'"]+)['"]/.exec(xml)?.[1];
const bodyOf = (xml: string): string | null => /<body>([\s\S]*?)<\/body>/.exec(xml)?.[1] ?? null;

let prosody: Prosody;
let gw: Gateway;
let bob: XmppClient;
const raws: RawXmpp[] = [];

beforeAll(async () => {
  prosody = await Prosody.start(XMPP_USERS);
  gw = await Gateway.start({ name: 'xmpp-resume', policy: imPolicy() });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  const ev = await bob.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 10000);
  if (ev?.ev !== 'online') throw new Error(`bob not online: ${JSON.stringify(ev)} ${bob.stderr}`);
  // Available, so messages to his bare JID are delivered rather than stored offline.
  bob.send({ name: 'presence' });
}, 60000);

afterAll(async () => {
  for (const r of raws) r.socket.destroy();
  await Promise.allSettled([bob?.stop()]);
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup()]);
});

test('alice resumes her XEP-0198 stream on a new tunnel: counters translated, nothing lost, duplicated or leaked', async () => {
  // ---- first connection -----------------------------------------------------
  const a1 = await RawXmpp.connect(gw.ports.socks5, prosody.c2sPort);
  raws.push(a1);
  await a1.login('alice', 'alicepw');
  a1.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r1</resource></bind></iq>`);
  await a1.waitFor(/^<iq[^>]*id=['"]b1['"]/);
  a1.write(`<enable ${SM} resume='true'/>`);
  const enabled = await a1.waitFor(/^<enabled /);
  const smId = /\bid=['"]([^'"]+)['"]/.exec(enabled)?.[1] as string;
  expect(enabled).toMatch(/resume=['"](true|1)['"]/);
  let sent = 0; // alice's own count of stanzas she sent since <enable/>

  a1.message(BOB_BARE, 'one', 'ok1');
  a1.message(BOB_BARE, 'the project falcon plans', 'bad1');
  sent += 2;
  expect(await a1.waitFor(/^<message[^>]*type=['"]error['"][^>]*/)).toMatch(/id=['"]bad1['"]/);
  bob.message(ALICE, 'back one', 'back1');
  bob.message(ALICE, 'inbound project falcon', 'bad2');
  bob.message(ALICE, 'back two', 'back2');
  await a1.waitFor(/id=['"]back2['"]/);
  expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="bad2"') && (e.xml ?? '').includes('type="error"'))).not.toBeNull();
  // The server counted a substitute ping and a bounce for alice: she hears her own count.
  expect(await a1.ackFromServer()).toBe(sent);

  a1.message(BOB_BARE, 'two', 'ok2');
  a1.message(BOB_BARE, 'more Project Falcon', 'bad3');
  sent += 2;
  await a1.waitFor(/id=['"]bad3['"]/);
  expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="ok2"'))).not.toBeNull();
  bob.message(ALICE, 'back three', 'back3');
  await a1.waitFor(/id=['"]back3['"]/);
  // Cut: no </stream:stream>, just the TCP connection gone (back3 handled, never acked).
  a1.socket.destroy();
  await sleep(700);

  // While alice is away prosody queues for her hibernating session.
  bob.message(ALICE, 'back four', 'back4');
  bob.message(ALICE, 'project falcon while away', 'bad4');
  bob.message(ALICE, 'back five', 'back5');
  await sleep(500);

  // ---- second connection: resume ------------------------------------------
  const a2 = await RawXmpp.connect(gw.ports.socks5, prosody.c2sPort);
  raws.push(a2);
  await a2.login('alice', 'alicepw');
  a2.inbound = a1.inbound;
  const mark = a2.units.length;
  a2.write(`<resume ${SM} previd='${smId}' h='${a2.inbound}'/>`);
  const resumed = await a2.waitFor(/^<(resumed|failed) /, mark);
  expect(resumed).toMatch(/^<resumed /);
  // prosody's h (what it handled of alice's) stated in alice's numbering: all she sent.
  expect(Number(/\bh=['"](\d+)['"]/.exec(resumed)?.[1])).toBe(sent);
  await a2.waitFor(/id=['"]back5['"]/, mark);
  expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="bad4"') && (e.xml ?? '').includes('type="error"'))).not.toBeNull();
  expect(await gw.waitLog((l) => l.msg === 'xmpp: XEP-0198 stream resumed')).not.toBeNull();

  a2.message(BOB_BARE, 'three', 'ok3');
  sent += 1;
  expect(await bob.waitFor((e) => (e.xml ?? '').includes('id="ok3"'))).not.toBeNull();
  expect(await a2.ackFromServer()).toBe(sent);
  // alice acks everything she handled; give prosody a moment to log its queue.
  a2.write(`<a ${SM} h='${a2.inbound}'/>`);
  await sleep(800);

  // ---- what each user got -------------------------------------------------
  const aliceGot = [...a1.units, ...a2.units].filter((u) => u.startsWith('<message') && !/type=['"]error['"]/.test(u));
  expect(aliceGot.map(idOf)).toEqual(['back1', 'back2', 'back3', 'back4', 'back5']);
  expect(aliceGot.some((u) => /falcon/i.test(bodyOf(u) ?? ''))).toBe(false);
  const bobGot = bob.stanzas().filter((x) => x.startsWith('<message') && !x.includes('type="error"'));
  expect(bobGot.map(idOf)).toEqual(['ok1', 'ok2', 'ok3']);
  expect(bobGot.some((x) => /falcon/i.test(bodyOf(x) ?? ''))).toBe(false);
  // alice saw no iq answers to the gateway's substitute pings.
  expect([...a1.units, ...a2.units].some((u) => /id=['"]imgate-/.test(u))).toBe(false);

  const log = fs.readFileSync(path.join(prosody.dir, 'prosody.log'), 'utf8');
  expect(log).toMatch(/mod_smacks resuming existing session/);
  expect(log).not.toMatch(/The client says it handled|handled-count-too-high|Tried to resume|falcon/i);
  const lastQueue = new Map<string, number>();
  for (const m of log.matchAll(/^(\S+)\s+debug\s+#queue = (\d+) \(acked/gm)) lastQueue.set(m[1] as string, Number(m[2]));
  expect(lastQueue.size).toBeGreaterThanOrEqual(1);
  expect([...lastQueue.values()].every((q) => q === 0)).toBe(true);
  // Prosody had nothing of alice's left to re-deliver: nothing past the resumption point went missing.
  expect(a2.socket.destroyed).toBe(false);
}, 60000);
