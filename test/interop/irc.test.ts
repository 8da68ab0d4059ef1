// IRC through imgate with a real ngircd and two real irc-framework clients in
// one channel. alice (the inspected user) goes through imgate's SOCKS5 door;
// bob connects directly. What a user would check: allowed text arrives,
// banned text never arrives and alice gets the gateway NOTICE, a card number
// arrives masked, a DCC SEND offer never arrives, and the session goes on.
// The gateway is the built imgate (bin/imgate.js), started per peers.md.
import { Gateway, type LogLine } from './helpers/gateway';
import { IrcClient } from './helpers/irc-client';
import { Ngircd } from './helpers/ngircd';
import { sleep } from './helpers/ports';
import { SocksClient } from 'socks';
import { imPolicy } from './helpers/im-policy';

const POLICY = imPolicy(`  - id: no-files-on-irc
    when: { kind: file, protocol: [irc] }
    then: block
  - id: banned-account
    when: { account: [mallory] }
    then: block
`);

const CHANNEL = '#imgate';

describe('IRC through imgate (ngircd, irc-framework)', () => {
  let ircd: Ngircd;
  let gateway: Gateway | undefined;
  let alice: IrcClient;
  let bob: IrcClient;
  let logs: () => LogLine[];
  let socksPort: number;

  beforeAll(async () => {
    ircd = await Ngircd.start();
    gateway = await Gateway.start({ name: 'irc', policy: POLICY });
    socksPort = gateway.ports.socks5;
    logs = () => (gateway as Gateway).logs();
    bob = await IrcClient.connect({ port: ircd.port, nick: 'bob' });
    alice = await IrcClient.connect({ port: ircd.port, nick: 'alice', socks: { host: '127.0.0.1', port: socksPort } });
    alice.join(CHANNEL);
    bob.join(CHANNEL);
    expect(await alice.waitLine((l) => / 366 alice #imgate /.test(l))).not.toBeNull();
    expect(await bob.waitLine((l) => / 366 bob #imgate /.test(l))).not.toBeNull();
  }, 30000);

  afterAll(async () => {
    alice?.quit();
    bob?.quit();
    await sleep(200);
    await gateway?.cleanup();
    await ircd?.stop();
  }, 30000);

  const imEvents = (): LogLine[] => logs().filter((l) => l.msg === 'im event' && l.protocol === 'irc');

  test('alice logged in through the gateway: a login event with her nick', () => {
    expect(imEvents().some((l) => l.kind === 'login' && l.account === 'alice' && l.action === 'allow')).toBe(true);
  });

  test('an allowed PRIVMSG arrives unchanged', async () => {
    alice.say(CHANNEL, 'hello from alice');
    expect(await bob.waitLine((l) => l.endsWith(`PRIVMSG ${CHANNEL} :hello from alice`))).toMatch(/^:alice!/);
  });

  test('a banned PRIVMSG never arrives and alice gets the gateway NOTICE', async () => {
    alice.say(CHANNEL, 'the plans for Project Falcon are ready');
    const notice = await alice.waitLine((l) => l.includes('NOTICE alice :Message blocked by imgate policy (rule no-falcon)'));
    expect(notice).toBe(':imgate NOTICE alice :Message blocked by imgate policy (rule no-falcon)');
    // A later allowed line arrives, so the banned one had every chance to.
    alice.say(CHANNEL, 'marker after falcon');
    expect(await bob.waitLine((l) => l.endsWith('marker after falcon'))).not.toBeNull();
    expect(bob.received.some((l) => /falcon are ready/i.test(l))).toBe(false);
    expect(imEvents().some((l) => l.kind === 'message' && l.rule === 'no-falcon' && l.action === 'block' && l.peer === CHANNEL)).toBe(true);
  });

  test('a card number arrives masked', async () => {
    alice.say('bob', 'my card is 4111 1111 1111 1111, thanks');
    expect(await bob.waitLine((l) => l.includes('PRIVMSG bob :my card is'))).toMatch(/PRIVMSG bob :my card is \*\*\*\*, thanks$/);
    expect(bob.received.some((l) => l.includes('4111'))).toBe(false);
  });

  test('a DCC SEND offer never arrives and alice gets a NOTICE', async () => {
    alice.ctcp('bob', 'DCC', 'SEND', 'file.txt', '2130706433', '5000', '12');
    expect(await alice.waitLine((l) => l.includes('DCC SEND blocked by imgate policy (rule no-files-on-irc)'))).not.toBeNull();
    alice.say('bob', 'marker after dcc');
    expect(await bob.waitLine((l) => l.endsWith('marker after dcc'))).not.toBeNull();
    expect(bob.received.some((l) => l.includes('DCC'))).toBe(false);
    const ev = imEvents().find((l) => l.kind === 'file');
    expect(ev).toMatchObject({ action: 'block', rule: 'no-files-on-irc', peer: 'bob', account: 'alice', file: { name: 'file.txt', size: 12 } });
  });

  test('the blocked offer\'s data connection through the gateway is refused too (SOCKS 0x02)', async () => {
    // bob's client would fetch the file by connecting to the offered
    // address:port (2130706433 = 127.0.0.1, port 5000); through imgate that
    // tunnel is recognised as the blocked transfer before any dial.
    const err = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: 5000 },
      timeout: 5000,
    }).then(
      (c) => {
        c.socket.destroy();
        return null;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/NotAllowed/);
    const data = await (gateway as Gateway).waitLog((l) => l.msg === 'im event' && l.kind === 'file' && (l.detail as Record<string, unknown> | undefined)?.data === true);
    expect(data).toMatchObject({ action: 'block', rule: 'no-files-on-irc', account: 'alice', peer: 'bob', dest: '127.0.0.1:5000', file: { name: 'file.txt', size: 12 } });
  });

  test('the session keeps working afterwards, both ways', async () => {
    alice.say(CHANNEL, 'still here');
    expect(await bob.waitLine((l) => l.endsWith(`PRIVMSG ${CHANNEL} :still here`))).not.toBeNull();
    bob.say(CHANNEL, 'welcome back alice');
    expect(await alice.waitLine((l) => l.endsWith(`PRIVMSG ${CHANNEL} :welcome back alice`))).toMatch(/^:bob!/);
    expect(alice.isClosed).toBe(false);
    expect(imEvents().some((l) => l.kind === 'message' && l.direction === 'in' && l.peer === CHANNEL && (l.detail as { from?: string } | undefined)?.from === 'bob' && l.text === 'welcome back alice')).toBe(true);
  });

  test('a banned account cannot log in: ERROR from the gateway, then the link closes', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: ircd.port },
      timeout: 5000,
    });
    const got: Buffer[] = [];
    socket.on('data', (b: Buffer) => got.push(b));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write('NICK mallory\r\nUSER mallory 0 * :mallory\r\n');
    const ok = await Promise.race([closed.then(() => true), sleep(5000).then(() => false)]);
    socket.destroy();
    expect(ok).toBe(true);
    expect(Buffer.concat(got).toString()).toBe('ERROR :Closing Link: blocked by imgate policy\r\n');
    // The log line may trail the close by a moment: wait for it.
    const login = await (gateway as Gateway).waitLog((l) => l.msg === 'im event' && l.protocol === 'irc' && l.kind === 'login' && l.account === 'mallory', 3000);
    expect(login).toMatchObject({ action: 'block', rule: 'banned-account' });
    // alice's session is not affected.
    alice.say(CHANNEL, 'after mallory');
    expect(await bob.waitLine((l) => l.endsWith('after mallory'))).not.toBeNull();
  });
});
