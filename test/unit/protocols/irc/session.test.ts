import { clearDccOffers, lookupDccOffer, probeIrc } from '../../../../src/protocols/irc';
import { Harness } from './harness';

const REG = 'NICK alice\r\nUSER alice 0 * :Alice\r\n';
const WELCOME = ':irc.test 001 alice :Welcome alice\r\n';

const registered = (opts?: ConstructorParameters<typeof Harness>[1]): Harness => new Harness(undefined, opts).client(REG).server(WELCOME);

describe('probe', () => {
  test.each([
    ['NICK alice\r\n', 'match'],
    ['CAP LS 302\r\n', 'match'],
    ['PASS secret\r\n', 'match'],
    ['user brotest * * :brotest\r\n', 'match'],
    ['    NICK brotest\r\n', 'match'],
    ['@label=1 CAP LS\r\n', 'match'],
    ['CAP\r\n', 'match'],
    ['STARTTLS\r\n', 'match'],
    ['NI', 'more'],
    ['@label=1', 'more'],
    ['', 'more'],
    ['GET / HTTP/1.1\r\n', 'no'],
    ['PRIVMSG bob :\x01DCC SEND hello.txt 167772161 5555 12\x01\n', 'match'],
    ['PRIVMSG x y\r\n', 'no'],
    ['PRIVMSG', 'more'],
    ['NOTICE bob', 'more'],
    ['NICKNAME x\r\n', 'no'],
    ['\x16\x03\x01\x02\x00', 'no'],
  ])('%j -> %s', (head, want) => {
    expect(probeIrc('c2s', Buffer.from(head, 'latin1'))).toBe(want);
  });

  test('server that speaks first', () => {
    expect(probeIrc('s2c', Buffer.from(':irc.test NOTICE * :*** Looking up your hostname\r\n'))).toBe('match');
    expect(probeIrc('s2c', Buffer.from(':irc.test 020 * :Please wait while we process your connection.\r\n'))).toBe('match');
    expect(probeIrc('s2c', Buffer.from('NOTICE AUTH :*** Looking up your hostname\r\n'))).toBe('match');
    expect(probeIrc('s2c', Buffer.from('PRIVMSG victim :\x01DCC SEND file.txt  5000 1024\x01\r\n'))).toBe('match');
    expect(probeIrc('s2c', Buffer.from('HTTP/1.1 200 OK\r\n'))).toBe('no');
    expect(probeIrc('s2c', Buffer.from('220 smtp.example ESMTP\r\n'))).toBe('no');
    expect(probeIrc('s2c', Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))).toBe('no');
  });
});

describe('IRC session', () => {
  beforeEach(() => clearDccOffers());

  test('allowed lines pass byte-identical, in one write per chunk', () => {
    const h = new Harness();
    const chunk = Buffer.from(`${REG}JOIN #imgate\r\nPRIVMSG #imgate :hello world\r\n`);
    h.client(chunk);
    expect(h.toServer).toHaveLength(1);
    expect(h.toServer[0]?.equals(chunk)).toBe(true);
    const login = h.ofKind('login');
    expect(login).toHaveLength(1);
    expect(login[0]?.draft).toMatchObject({ account: 'alice', side: 'c2s', protocol: 'irc' });
    expect(h.ofKind('message')[0]?.draft).toMatchObject({ peer: '#imgate', text: 'hello world', account: 'alice' });
  });

  test('lines split across chunks at every byte still pass unchanged', () => {
    const h = new Harness();
    const all = Buffer.from(`${REG}PRIVMSG bob :hi there\nPRIVMSG #c :second\r\n`);
    for (let i = 0; i < all.length; i++) h.client(all.subarray(i, i + 1));
    expect(Buffer.concat(h.toServer).equals(all)).toBe(true);
    expect(h.ofKind('message').map((e) => e.draft.text)).toEqual(['hi there', 'second']);
  });

  test('blocked PRIVMSG is dropped and the client gets the gateway NOTICE', () => {
    const h = registered();
    h.client('PRIVMSG #imgate :before\r\nPRIVMSG #imgate :about Project  Falcon\r\nPRIVMSG #imgate :after\r\n');
    expect(h.serverGot).toContain('PRIVMSG #imgate :before\r\nPRIVMSG #imgate :after\r\n');
    expect(h.serverGot).not.toMatch(/falcon/i);
    expect(h.injectedToClient.map(String)).toEqual([':imgate NOTICE alice :Message blocked by imgate policy (rule no-falcon)\r\n']);
    expect(h.closed).toBeUndefined();
  });

  test('card numbers are masked, the rest of the line is kept', () => {
    const h = registered();
    h.client('PRIVMSG bob :card 4111 1111 1111 1111 ok\r\n');
    expect(h.serverGot).toContain('PRIVMSG bob :card **** ok\r\n');
    h.client('PRIVMSG bob :\x01ACTION pays with 4111-1111-1111-1111\x01\r\n');
    expect(h.serverGot).toContain('PRIVMSG bob :\x01ACTION pays with ****\x01\r\n');
    const action = h.events.find((e) => e.draft.detail?.ctcp === 'ACTION');
    expect(action?.draft).toMatchObject({ kind: 'message', text: 'pays with 4111-1111-1111-1111' });
  });

  test('inbound messages: peer is the channel (sender in detail.from), blocked ones never reach the client', () => {
    const h = registered();
    h.server(':bob!b@h PRIVMSG #imgate :hi alice\r\n:bob!b@h PRIVMSG alice :project falcon plans\r\n');
    const msgs = h.ofKind('message');
    expect(msgs[0]?.draft).toMatchObject({ side: 's2c', peer: '#imgate', text: 'hi alice', detail: { channel: '#imgate', from: 'bob' } });
    expect(msgs[1]?.draft).toMatchObject({ side: 's2c', peer: 'bob', text: 'project falcon plans' });
    expect(h.clientGot).toContain(':bob!b@h PRIVMSG #imgate :hi alice\r\n');
    expect(h.clientGot).not.toMatch(/falcon plans/);
    expect(h.clientGot).toContain(':imgate NOTICE alice :Message from bob blocked by imgate policy (rule no-falcon)\r\n');
  });

  test('DCC SEND offer: file event, blocked, NOTICE, offer recorded for correlation', () => {
    const h = registered();
    h.client('PRIVMSG bob :\x01DCC SEND file.txt 2130706433 5000 12\x01\r\nPRIVMSG bob :still here\r\n');
    const f = h.ofKind('file');
    expect(f).toHaveLength(1);
    expect(f[0]?.draft).toMatchObject({ peer: 'bob', account: 'alice', file: { name: 'file.txt', size: 12 }, detail: { dcc: 'SEND', address: '127.0.0.1', port: 5000 } });
    expect(h.serverGot).not.toContain('DCC');
    expect(h.serverGot).toContain('PRIVMSG bob :still here\r\n');
    expect(h.injectedToClient.map(String)).toEqual([':imgate NOTICE alice :DCC SEND blocked by imgate policy (rule no-files-on-irc)\r\n']);
    expect(lookupDccOffer('127.0.0.1', 5000)).toMatchObject({ type: 'SEND', file: 'file.txt', size: 12, account: 'alice', peer: 'bob', action: 'block' });
    expect(lookupDccOffer('::ffff:127.0.0.1', 5000)).toBeDefined();
    expect(lookupDccOffer('127.0.0.1', 5001)).toBeUndefined();
  });

  test('inbound DCC SEND and DCC CHAT (allowed by an allow-all policy) are recorded', () => {
    const h = new Harness({ default: 'allow', rules: [] }).client(REG).server(WELCOME);
    h.server(':bob!b@h PRIVMSG alice :\x01DCC SEND "my file.zip" 3232235876 4000 99\x01\r\n');
    h.server(':bob!b@h PRIVMSG alice :\x01DCC CHAT chat 3232235876 4001\x01\r\n');
    expect(h.ofKind('file')[0]?.draft).toMatchObject({ side: 's2c', peer: 'bob', file: { name: 'my file.zip', size: 99 } });
    expect(h.events.find((e) => e.draft.detail?.dcc === 'CHAT')?.draft).toMatchObject({ kind: 'message', peer: 'bob' });
    expect(lookupDccOffer('192.168.1.100', 4000)).toMatchObject({ file: 'my file.zip', side: 's2c', peer: 'bob', action: 'allow' });
    expect(lookupDccOffer('192.168.1.100', 4001)).toMatchObject({ type: 'CHAT' });
    expect(h.clientGot).toContain('DCC SEND "my file.zip"');
  });

  test('framed but malformed DCC SEND offers are file events (blockable), never correlated', () => {
    const h = new Harness({ default: 'allow', rules: [] }).client(REG).server(WELCOME);
    h.server(':eve!e@h PRIVMSG alice :\x01DCC SEND file.txt  5000 1024\x01\r\n');
    h.server(':eve!e@h PRIVMSG alice :\x01DCC SEND file.txt 3232235876 abc 1024\x01\r\n');
    expect(h.ofKind('file').map((e) => [e.draft.file?.name, e.draft.detail?.malformed])).toEqual([
      ['file.txt', 'host'],
      ['file.txt', 'port'],
    ]);
    expect(lookupDccOffer('192.168.1.100', 1024)).toBeUndefined();
  });

  test('other CTCPs are recorded with detail', () => {
    const h = registered();
    h.client('PRIVMSG bob :\x01VERSION\x01\r\nNOTICE bob :\x01VERSION irssi 1.4\x01\r\n');
    expect(h.events.filter((e) => e.draft.detail?.ctcp === 'VERSION').map((e) => e.draft.kind)).toEqual(['unknown', 'unknown']);
  });

  test('banned account: ERROR to the client, then close; nothing reaches the server', () => {
    const h = new Harness();
    h.client('NICK mallory\r\nUSER m 0 * :M\r\n');
    expect(h.serverGot).toBe('');
    expect(h.injectedToClient.map(String)).toEqual(['ERROR :Closing Link: blocked by imgate policy\r\n']);
    expect(h.closed).toMatch(/login of mallory blocked/);
  });

  test('SASL PLAIN login is an event with the authcid', () => {
    const h = new Harness();
    const payload = Buffer.from('\0mallory\0secret').toString('base64');
    h.client(`CAP LS 302\r\nNICK m2\r\nUSER m 0 * :M\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE ${payload}\r\n`);
    const sasl = h.ofKind('login').find((e) => e.draft.detail?.mechanism === 'PLAIN');
    expect(sasl?.draft.account).toBe('mallory');
    expect(h.closed).toMatch(/SASL login of mallory blocked/);
    expect(h.serverGot).not.toContain(payload);
  });

  test('account follows NICK changes the server acknowledges', () => {
    const h = registered();
    h.client('NICK alice2\r\n');
    h.client('PRIVMSG bob :x\r\n');
    expect(h.events.at(-1)?.draft.account).toBe('alice');
    h.server(':alice!a@h NICK :alice2\r\n');
    h.client('PRIVMSG bob :y\r\n');
    expect(h.events.at(-1)?.draft.account).toBe('alice2');
    // Someone else's nick change does not touch ours.
    h.server(':bob!b@h NICK bobby\r\n');
    h.client('PRIVMSG bobby :z\r\n');
    expect(h.events.at(-1)?.draft.account).toBe('alice2');
  });

  test('a nick change to a banned account is refused with a NOTICE', () => {
    const h = registered();
    h.client('NICK mallory\r\n');
    expect(h.serverGot).not.toContain('NICK mallory');
    expect(h.injectedToClient.map(String)).toEqual([':imgate NOTICE alice :Nick change blocked by imgate policy (rule banned-account)\r\n']);
    expect(h.closed).toBeUndefined();
  });

  test('line over the IRC limit closes with a reason; allowed lines before it still go out', () => {
    const h = registered();
    h.client(`PRIVMSG bob :ok\r\nPRIVMSG bob :${'x'.repeat(600)}\r\n`);
    expect(h.serverGot).toContain('PRIVMSG bob :ok\r\n');
    expect(h.closed).toMatch(/over 512 bytes/);
  });

  test('maxUnitBytes is checked before buffering', () => {
    const h = registered({ maxUnitBytes: 100 });
    h.client(`PRIVMSG bob :${'x'.repeat(200)}`);
    expect(h.closed).toMatch(/maxUnitBytes/);
    const t = new Harness();
    t.client(`@${'a'.repeat(9000)}`);
    expect(t.closed).toMatch(/tags over 8191/);
  });

  test('tags up to 8191 bytes are fine', () => {
    const h = registered();
    const line = `@${'a'.repeat(8000)} :bob!b@h PRIVMSG alice :tagged\r\n`;
    h.server(line);
    expect(h.closed).toBeUndefined();
    expect(h.clientGot).toContain(line);
    expect(h.events.at(-1)?.draft.text).toBe('tagged');
  });

  test('a last line without LF is inspected at end()', () => {
    const h = registered();
    h.client('PRIVMSG bob :project falcon');
    expect(h.serverGot).not.toContain('falcon');
    h.session.end('c2s');
    expect(h.serverGot).not.toContain('falcon');
    expect(h.injectedToClient).toHaveLength(1);
    const g = registered();
    g.client('PRIVMSG bob :bye');
    g.session.end('c2s');
    expect(g.serverGot.endsWith('PRIVMSG bob :bye')).toBe(true);
  });
});

describe('STARTTLS', () => {
  test("pass: passthrough after 670, TLS bytes flow unparsed", () => {
    const h = registered({ starttls: 'pass' });
    h.client('STARTTLS\r\n');
    expect(h.serverGot).toContain('STARTTLS\r\n');
    h.server(':irc.joulunet.org 670  :STARTTLS successful, go ahead with TLS handshake\r\n\x16\x03\x01');
    expect(h.session.passthrough).toBe(true);
    expect(h.clientGot.endsWith('go ahead with TLS handshake\r\n\x16\x03\x01')).toBe(true);
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x0a, 0x0d, 0x0a, 0x00]);
    h.client(hello);
    expect(h.toServer.at(-1)?.equals(hello)).toBe(true);
  });

  test('strip: tls and sts removed from CAP LS, STARTTLS answered 691 by the gateway', () => {
    const h = new Harness(undefined, { starttls: 'strip' });
    h.client('CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :A\r\n');
    h.server(':irc.test CAP * LS :multi-prefix tls sasl=PLAIN sts=port=6697\r\n');
    expect(h.clientGot).toBe(':irc.test CAP * LS :multi-prefix sasl=PLAIN\r\n');
    h.client('STARTTLS\r\n');
    expect(h.serverGot).not.toContain('STARTTLS');
    expect(h.injectedToClient.map(String)).toEqual([':imgate 691 alice :STARTTLS disabled by imgate policy\r\n']);
    expect(h.session.passthrough).toBe(false);
  });

  test('block: STARTTLS closes the connection', () => {
    const h = registered({ starttls: 'block' });
    h.client('STARTTLS\r\n');
    expect(h.closed).toMatch(/STARTTLS blocked/);
    expect(h.serverGot).not.toContain('STARTTLS');
  });
});
