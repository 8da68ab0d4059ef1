// The record store with the real gateway (bin/imgate.js), a real ngircd and
// real irc-framework clients. alice (authenticated SOCKS5 user "alice") talks
// through imgate; bob connects directly. What an operator checks: allowed,
// blocked and redacted messages show up in `imgate search` with the right
// user, account, peer and verdict while the gateway runs; and a SIGTERM in
// the middle of a 2000-message burst loses nothing: after exit 0, every
// message the ircd delivered (and every one the gateway decided) is stored;
// a SIGKILL loses nothing older than one flush interval. Then the same for
// XMPP with a real Prosody: messages and a refused file offer in search,
// files and report.
import { spawnSync } from 'node:child_process';
import { Gateway, IMGATE_BIN, type LogLine } from './helpers/gateway';
import { IrcClient } from './helpers/irc-client';
import { Ngircd } from './helpers/ngircd';
import { sleep } from './helpers/ports';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { SocksForwarder } from './helpers/socks-forwarder';
import { XmppClient } from './helpers/xmpp-client';
import { imPolicy } from './helpers/im-policy';

const POLICY = imPolicy();
const CHANNEL = '#audit';
const N = 2000;

type Row = Record<string, unknown> & { text?: string };

function cli(gw: Gateway, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [IMGATE_BIN, ...args, '--config', gw.configPath], { encoding: 'utf8', timeout: 30000, maxBuffer: 64 * 1024 * 1024 });
}
const jsonLines = (s: string): Row[] => s.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);

async function pollSearch(gw: Gateway, args: string[], want: (rows: Row[]) => boolean, timeoutMs = 5000): Promise<Row[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = jsonLines(cli(gw, ['search', ...args, '--json']).stdout);
    if (want(rows) || Date.now() > deadline) return rows;
    await sleep(200);
  }
}

async function join(nick: string, port: number, socks?: Record<string, unknown>): Promise<IrcClient> {
  const c = await IrcClient.connect(socks ? { port, nick, socks: socks as { host: string; port: number } } : { port, nick });
  c.join(CHANNEL);
  expect(await c.waitLine((l) => l.includes(` 366 ${nick} ${CHANNEL} `))).not.toBeNull();
  return c;
}

describe('record store through the real gateway (ngircd, irc-framework)', () => {
  let ircd: Ngircd;
  let gw: Gateway;
  let alice: IrcClient;
  let bob: IrcClient;

  beforeAll(async () => {
    ircd = await Ngircd.start();
    gw = await Gateway.start({
      name: 'audit',
      policy: POLICY,
      users: [{ name: 'alice', password: 'alice-pw' }],
      config: { socks5: { auth: 'userpass' }, shutdown: { drain_timeout_ms: 3000 }, audit: { flush_interval_ms: 100 } },
    });
    bob = await IrcClient.connect({ port: ircd.port, nick: 'bob' });
    const socks = { host: '127.0.0.1', port: gw.ports.socks5, user: 'alice', pass: 'alice-pw' };
    alice = await IrcClient.connect({ port: ircd.port, nick: 'alice', socks });
    alice.join(CHANNEL);
    bob.join(CHANNEL);
    expect(await alice.waitLine((l) => / 366 alice #audit /.test(l))).not.toBeNull();
    expect(await bob.waitLine((l) => / 366 bob #audit /.test(l))).not.toBeNull();
  }, 30000);

  afterAll(async () => {
    alice?.quit();
    bob?.quit();
    await sleep(100);
    await gw?.cleanup();
    await ircd?.stop();
  }, 30000);

  test('allowed, blocked and redacted messages are searchable while the gateway runs', async () => {
    alice.say(CHANNEL, 'quarterly numbers look fine');
    expect(await bob.waitLine((l) => l.endsWith('quarterly numbers look fine'))).not.toBeNull();
    alice.say(CHANNEL, 'the plans for Project Falcon are ready');
    expect(await alice.waitLine((l) => l.includes('rule no-falcon'))).not.toBeNull();
    alice.say(CHANNEL, 'my card is 4111 1111 1111 1111 ok');
    expect(await bob.waitLine((l) => l.includes('my card is'))).toMatch(/my card is \*+/);

    const allowed = await pollSearch(gw, ['quarterly numbers'], (r) => r.length > 0);
    expect(allowed).toEqual([
      expect.objectContaining({ user: 'alice', account: 'alice', peer: CHANNEL, protocol: 'irc', direction: 'out', door: 'socks5', kind: 'message', text: 'quarterly numbers look fine', action: 'allow', rule: 'default', client_ip: '127.0.0.1' }),
    ]);
    // The record keeps what alice typed, with the verdict that stopped or masked it.
    const blocked = await pollSearch(gw, ['falcon', '--user', 'alice'], (r) => r.length > 0);
    expect(blocked).toEqual([expect.objectContaining({ account: 'alice', peer: CHANNEL, text: 'the plans for Project Falcon are ready', action: 'block', rule: 'no-falcon' })]);
    const redacted = await pollSearch(gw, ['card', '--account', 'alice', '--protocol', 'irc'], (r) => r.length > 0);
    expect(redacted).toEqual([expect.objectContaining({ peer: CHANNEL, text: 'my card is 4111 1111 1111 1111 ok', action: 'redact', rule: 'mask-cards' })]);
    // Her login is on record too, and the table form names her.
    expect(jsonLines(cli(gw, ['search', '', '--user', 'alice', '--json']).stdout).some((r) => r.kind === 'login' && r.account === 'alice')).toBe(true);
    expect(cli(gw, ['search', 'falcon']).stdout).toMatch(/alice\s+irc\s+out\s+alice\s+#audit\s+message\s+block\s+no-falcon\s+the plans for Project Falcon/);
    const report = JSON.parse(cli(gw, ['report', '--json']).stdout) as { by_user: Array<{ key: string; messages: number; blocks: number }> };
    expect(report.by_user.find((l) => l.key === 'alice')).toMatchObject({ messages: 3, blocks: 1 });
    const metrics = (await gw.admin('/metrics')).body;
    expect(metrics).toMatch(/imgate_audit_written_total \d+/);
    expect(metrics).toMatch(/imgate_audit_dropped_total 0/);
  }, 30000);
});

describe('nothing lost on SIGTERM, at most one flush interval on a crash', () => {
  let ircd: Ngircd;
  const gateways: Gateway[] = [];
  const clients: IrcClient[] = [];
  beforeAll(async () => {
    ircd = await Ngircd.start();
  }, 30000);
  afterAll(async () => {
    for (const c of clients) c.quit();
    await sleep(100);
    for (const g of gateways) await g.cleanup();
    await ircd?.stop();
  }, 30000);

  async function setup(name: string, audit: Record<string, unknown>): Promise<{ gw: Gateway; alice: IrcClient; bob: IrcClient }> {
    const gw = await Gateway.start({
      name,
      users: [{ name: 'alice', password: 'alice-pw' }],
      config: { socks5: { auth: 'userpass' }, shutdown: { drain_timeout_ms: 3000 }, audit },
    });
    gateways.push(gw);
    const bob = await join(`bob${name}`, ircd.port);
    const alice = await join(`alice${name}`, ircd.port, { host: '127.0.0.1', port: gw.ports.socks5, user: 'alice', pass: 'alice-pw' });
    clients.push(alice, bob);
    return { gw, alice, bob };
  }

  const stored = (gw: Gateway, re: RegExp): Set<string> => {
    const out = cli(gw, ['export']);
    expect(out.status).toBe(0);
    return new Set(jsonLines(out.stdout).filter((r) => r.kind === 'message' && re.test(r.text ?? '')).map((r) => r.text as string));
  };

  // A flush interval far longer than the test and no batch-full trigger: the
  // burst is still entirely in the queue when SIGTERM arrives, so only the
  // drain's flush can have written it.
  test(`SIGTERM during a burst of ${N} messages: every delivered message is stored`, async () => {
    const { gw, alice, bob } = await setup('t', { flush_interval_ms: 60000, batch_max: 100000 });
    const from = gw.logs().length;
    let sent = 0;
    let stopping: Promise<{ code: number | null; signal: string | null }> | null = null;
    while (sent < N) {
      for (let i = 0; i < 100 && sent < N; i++) alice.say(CHANNEL, `load-${sent++}`);
      if (sent === N / 2) stopping = gw.stop();
      await sleep(5);
    }
    const exit = await (stopping as NonNullable<typeof stopping>);
    expect(exit).toEqual({ code: 0, signal: null });
    await sleep(300); // the ircd's last deliveries to bob
    const delivered = new Set(bob.received.map((l) => /PRIVMSG #audit :(load-\d+)$/.exec(l)?.[1]).filter((x): x is string => x !== undefined));
    // The gateway decided (logged) each message it relayed.
    const decided = new Set(
      gw
        .logs()
        .slice(from)
        .filter((l: LogLine) => l.msg === 'im event' && typeof l.text === 'string' && /^load-\d+$/.test(l.text as string))
        .map((l) => l.text as string),
    );
    const kept = stored(gw, /^load-\d+$/);
    process.stdout.write(`audit interop: sent ${N}, delivered ${delivered.size}, decided ${decided.size}, stored ${kept.size}\n`);
    expect(delivered.size).toBeGreaterThan(N / 4);
    for (const t of delivered) expect(kept.has(t)).toBe(true);
    expect(kept).toEqual(decided);
    expect(gw.logs().some((l) => l.msg === 'audit store closed' && l.dropped === 0)).toBe(true);
  }, 60000);

  test('SIGKILL: everything older than one flush interval is stored', async () => {
    const { gw, alice, bob } = await setup('k', { flush_interval_ms: 100 });
    for (let i = 0; i < 300; i++) alice.say(CHANNEL, `crash-${i}`);
    expect(await bob.waitLine((l) => l.endsWith(':crash-299'), 10000)).not.toBeNull();
    await sleep(400); // more than one flush interval
    gw.daemon.signal('SIGKILL');
    expect(await gw.daemon.waitExit(5000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stored(gw, /^crash-\d+$/).size).toBe(300);
  }, 30000);
});

describe('XMPP (real Prosody, @xmpp/client) into the record store', () => {
  let prosody: Prosody;
  let gw: Gateway;
  let fwd: SocksForwarder;
  const clients: XmppClient[] = [];
  const BOB = `bob@${XMPP_DOMAIN}`;
  const ALICE = `alice@${XMPP_DOMAIN}`;

  beforeAll(async () => {
    prosody = await Prosody.start([{ name: 'alice', password: 'alicepw' }, { name: 'bob', password: 'bobpw' }]);
    gw = await Gateway.start({ name: 'audit-xmpp', policy: `${POLICY}  - id: no-files\n    when: { kind: file }\n    then: block\n`, config: { audit: { flush_interval_ms: 100 } } });
    fwd = await SocksForwarder.start(gw.ports.socks5, { host: '127.0.0.1', port: prosody.c2sPort });
  }, 60000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.stop()));
    await Promise.allSettled([fwd?.close()]);
    await Promise.allSettled([gw?.cleanup(), prosody?.cleanup()]);
  });

  test('messages and a refused file offer by alice are in search, files and report', async () => {
    const bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
    const alice = new XmppClient(`xmpp://127.0.0.1:${fwd.port}`, XMPP_DOMAIN, 'alice', 'alicepw');
    clients.push(bob, alice);
    for (const c of [bob, alice]) expect((await c.waitFor((e) => ['online', 'start-failed', 'error'].includes(e.ev), 10000))?.ev).toBe('online');
    alice.message(`${BOB}/t`, 'hello bob <3 & co', 'ok1');
    alice.message(`${BOB}/t`, 'the Project Falcon plans', 'bad1');
    alice.message(`${BOB}/t`, 'my card is 4111 1111 1111 1111, thanks', 'card1');
    expect(await alice.waitFor((e) => (e.xml ?? '').includes('id="bad1"'))).not.toBeNull();
    alice.send({
      name: 'iq',
      attrs: { type: 'get', id: 'up1', to: XMPP_DOMAIN },
      children: [{ name: 'request', attrs: { xmlns: 'urn:xmpp:http:upload:0', filename: 'secret-plans.pdf', size: '48213', 'content-type': 'application/pdf' } }],
    });
    expect(await alice.waitFor((e) => (e.xml ?? '').includes('id="up1"'))).not.toBeNull();

    const rows = await pollSearch(gw, ['', '--protocol', 'xmpp', '--account', ALICE], (r) => r.filter((x) => x.kind === 'message').length >= 3 && r.some((x) => x.kind === 'file'));
    const msgs = rows.filter((r) => r.kind === 'message' && r.account === ALICE);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ peer: BOB, text: 'hello bob <3 & co', action: 'allow', direction: 'out' }),
        expect.objectContaining({ peer: BOB, text: 'the Project Falcon plans', action: 'block', rule: 'no-falcon' }),
        expect.objectContaining({ peer: BOB, text: 'my card is 4111 1111 1111 1111, thanks', action: 'redact', rule: 'mask-cards' }),
      ]),
    );
    expect(rows.some((r) => r.kind === 'login' && r.account === ALICE)).toBe(true);
    const falcon = jsonLines(cli(gw, ['search', 'falcon plans', '--json']).stdout);
    expect(falcon.map((r) => r.text)).toEqual(['the Project Falcon plans']);
    const files = jsonLines(cli(gw, ['files', '--name', '*.pdf', '--json']).stdout);
    expect(files).toEqual([expect.objectContaining({ name: 'secret-plans.pdf', size: 48213, protocol: 'xmpp', account: ALICE, action: 'block', rule: 'no-files' })]);
    const report = JSON.parse(cli(gw, ['report', '--json']).stdout) as { by_protocol: Array<{ key: string; messages: number; files: number; blocks: number }> };
    expect(report.by_protocol.find((l) => l.key.startsWith('xmpp'))).toMatchObject({ messages: 3, files: 1, blocks: 2 });
  }, 60000);
});
