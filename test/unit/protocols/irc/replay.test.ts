import path from 'node:path';
import { clearDccOffers, dccOfferCount, lookupDccOffer, DCC_TABLE_MAX } from '../../../../src/protocols/irc';
import { replayIrc, type Flow } from './capture';

import { CAPTURES } from '../../../captures';
const cap = (name: string): string => path.join(CAPTURES, name);

const ircFlows = (flows: Flow[]): Flow[] => flows.filter((f) => f.harness !== null);
const events = (flows: Flow[]) => ircFlows(flows).flatMap((f) => (f.harness ? f.harness.events.map((e) => e.draft) : []));

/** Everything each side sent reached the other side byte-identical (allow-all policy). */
function expectByteIdentical(flows: Flow[]): void {
  for (const f of ircFlows(flows)) {
    const h = f.harness!;
    expect(h.closed).toBeUndefined();
    expect(Buffer.concat(h.toServer).equals(Buffer.concat(f.bytes.c2s))).toBe(true);
    expect(Buffer.concat(h.toClient).equals(Buffer.concat(f.bytes.s2c))).toBe(true);
  }
}

beforeEach(() => clearDccOffers());

describe('replay of real IRC captures', () => {
  test('zeek-irc-basic: login brotest, channel message "test"', async () => {
    const flows = await replayIrc(cap('zeek-irc-basic.pcap'));
    expect(ircFlows(flows)).toHaveLength(1);
    const ev = events(flows);
    expect(ev.filter((e) => e.kind === 'login').map((e) => e.account)).toEqual(['brotest']);
    expect(ev.filter((e) => e.kind === 'message' && e.side === 'c2s')).toEqual([
      expect.objectContaining({ peer: '#brotest', text: 'test', account: 'brotest', protocol: 'irc' }),
    ]);
    expectByteIdentical(flows);
  });

  test('zeek-irc-whitespace: odd whitespace still gives the same login and message', async () => {
    const flows = await replayIrc(cap('zeek-irc-whitespace.pcap'));
    const ev = events(flows);
    expect(ev.filter((e) => e.kind === 'login').map((e) => e.account)).toEqual(['brotest']);
    expect(ev.filter((e) => e.kind === 'message' && e.side === 'c2s')).toEqual([expect.objectContaining({ peer: '#BROTEST', text: 'test' })]);
    expectByteIdentical(flows);
  });

  test('zeek-irc-dcc-send.trace: inbound DCC SEND offer, and the data connection is labelled', async () => {
    const flows = await replayIrc(cap('zeek-irc-dcc-send.trace'));
    const ev = events(flows);
    expect(ev.filter((e) => e.kind === 'login').map((e) => e.account)).toContain('bloed');
    expect(ev).toContainEqual(expect.objectContaining({ kind: 'message', side: 'c2s', peer: 'ladyvampress', text: 'list' }));
    const files = ev.filter((e) => e.kind === 'file');
    expect(files).toEqual([
      expect.objectContaining({
        side: 's2c',
        peer: 'ladyvampress',
        account: 'bloed',
        file: { name: 'ladyvampress-default(2011-07-07)-OS.zip', size: 42208 },
        detail: expect.objectContaining({ dcc: 'SEND', address: '209.197.168.151', port: 1024 }),
      }),
    ]);
    const data = flows.find((f) => f.server.port === 1024);
    expect(data).toBeDefined();
    expect(data!.harness).toBeNull(); // not IRC
    expect(data!.server.host).toBe('209.197.168.151');
    expect(Buffer.concat(data!.bytes.s2c).length + Buffer.concat(data!.bytes.c2s).length).toBeGreaterThan(42208);
    expect(lookupDccOffer(data!.server.host, data!.server.port)).toMatchObject({ type: 'SEND', file: 'ladyvampress-default(2011-07-07)-OS.zip', size: 42208, account: 'bloed', peer: 'ladyvampress' });
    expectByteIdentical(flows);
  });

  test('zeek-irc-dcc-send.pcapng: IRCv3 tags, channel messages both ways, DCC SEND and DCC CHAT', async () => {
    const flows = await replayIrc(cap('zeek-irc-dcc-send.pcapng'));
    const ev = events(flows);
    expect(ev.filter((e) => e.kind === 'login').map((e) => e.account)).toContain('tim2');
    const chan = ev.filter((e) => e.kind === 'message' && (e.peer === '#testing' || e.detail?.channel === '#testing'));
    expect(chan.filter((e) => e.side === 'c2s').map((e) => e.text)).toEqual([
      "hi, i'm chatting for some packets",
      'more packets',
      'more packets!',
      'even more packets!',
    ]);
    // Inbound channel lines: the channel is the peer, the sender in detail.from.
    expect(chan.filter((e) => e.side === 's2c').map((e) => [e.peer, e.detail?.from, e.text])).toEqual([
      ['#testing', 'tim1', 'do we still need more packets?'],
      ['#testing', 'tim1', 'maybe we do'],
    ]);
    expect(ev.filter((e) => e.kind === 'file')).toEqual([
      expect.objectContaining({ side: 'c2s', peer: 'tim1', file: { name: 'ssh.trace', size: 1320211 }, detail: expect.objectContaining({ address: '10.0.0.7', port: 59130 }) }),
    ]);
    expect(ev.filter((e) => e.detail?.dcc === 'CHAT')).toEqual([
      expect.objectContaining({ kind: 'message', side: 'c2s', peer: 'tim1', detail: expect.objectContaining({ address: '10.0.0.7', port: 59214 }) }),
    ]);
    expect(lookupDccOffer('10.0.0.7', 59130)).toMatchObject({ type: 'SEND', file: 'ssh.trace', size: 1320211, account: 'tim2', side: 'c2s' });
    expect(lookupDccOffer('10.0.0.7', 59214)).toMatchObject({ type: 'CHAT', peer: 'tim1' });
    const send = flows.find((f) => f.server.port === 59130);
    expect(send?.harness).toBeNull();
    expect(send && lookupDccOffer(send.server.host, send.server.port)?.file).toBe('ssh.trace');
    expectByteIdentical(flows);
  });

  test('zeek-irc-dcc-first-command: DCC SEND hello.txt', async () => {
    const flows = await replayIrc(cap('zeek-irc-dcc-first-command.pcap'));
    expect(events(flows).filter((e) => e.kind === 'file')).toEqual([
      expect.objectContaining({ peer: 'bob', file: { name: 'hello.txt', size: 12 }, detail: expect.objectContaining({ address: '10.0.0.1', port: 5555 }) }),
    ]);
    expect(lookupDccOffer('10.0.0.1', 5555)).toMatchObject({ file: 'hello.txt', size: 12 });
    expectByteIdentical(flows);
  });

  // The bytes of these two captures carry no CTCP \x01 delimiters (the
  // README shows them framed): "DCC SEND ..." is plain text that no client
  // acts on, so it is a message, never a file offer nor a correlation entry.
  test.each([
    ['zeek-irc-dcc-send-malformed-host.pcap', 'DCC SEND file.txt \x01\x02\x03\x04\x05 5000 1024'],
    ['zeek-irc-dcc-send-malformed-port.pcap', 'DCC SEND file.txt 3232235876 abc 1024'],
  ])('%s: an unframed "DCC SEND" is message text, never an offer', async (name, text) => {
    const flows = await replayIrc(cap(name));
    expect(events(flows)).toEqual([expect.objectContaining({ kind: 'message', side: 's2c', text })]);
    expect(events(flows)[0]?.peer).toBeUndefined(); // no prefix: no sender nick
    expect(dccOfferCount()).toBe(0);
    expectByteIdentical(flows);
  });

  test('zeek-irc-dcc-state-growth: 30 offers recorded exactly, the table stays bounded', async () => {
    const flows = await replayIrc(cap('zeek-irc-dcc-state-growth.pcapng'));
    const ev = events(flows);
    expect(ev.filter((e) => e.kind === 'login').map((e) => e.account)).toEqual(['loadbot']);
    const files = ev.filter((e) => e.kind === 'file');
    expect(files).toHaveLength(30);
    const want = [
      ...Array.from({ length: 10 }, (_, i) => [`f${i}.bin`, '192.0.2.30', 20000 + i]),
      ...Array.from({ length: 20 }, (_, i) => [`f${i}.bin`, '192.0.2.31', 21000 + i]),
    ];
    expect(files.map((e) => [e.file?.name, e.detail?.address, e.detail?.port])).toEqual(want);
    expect(files.every((e) => e.file?.size === 1 && e.peer === 'victim')).toBe(true);
    expect(dccOfferCount()).toBe(30);
    expect(lookupDccOffer('192.0.2.31', 21019)).toMatchObject({ file: 'f19.bin', size: 1, account: 'loadbot' });
    expect(dccOfferCount()).toBeLessThanOrEqual(DCC_TABLE_MAX);
  });

  test('suricata-verify-irc-input: botnet login and bot replies in channels', async () => {
    const flows = await replayIrc(cap('suricata-verify-irc-input.pcap'));
    const ev = events(flows);
    const login = ev.filter((e) => e.kind === 'login');
    expect(login.map((e) => e.account)).toContain('damn-0262937047');
    expect(login[0]?.detail).toMatchObject({ password: true });
    expect(ev).toContainEqual(
      expect.objectContaining({ kind: 'message', side: 'c2s', peer: '#s03', text: '[DOWNLOAD]: Downloaded 28.6 KB to ysbinstall_1000489_3.exe @ 28.6 KB/sec.' }),
    );
    expectByteIdentical(flows);
  });

  test('arkime-irc-cap-req: Twitch IRC on port 80 is found by its bytes', async () => {
    const flows = await replayIrc(cap('arkime-irc-cap-req.pcap'));
    const irc = ircFlows(flows);
    expect(irc).toHaveLength(1);
    expect(irc[0]?.server.port).toBe(80);
    const login = events(flows).filter((e) => e.kind === 'login');
    expect(login.map((e) => e.account)).toEqual(['THE-USER']);
    expect(login[0]?.detail).toMatchObject({ password: true });
    expectByteIdentical(flows);
  });

  test('ndpi-irc: IRC on port 8000, login molochtest', async () => {
    const flows = await replayIrc(cap('ndpi-irc.pcap'));
    const irc = ircFlows(flows);
    expect(irc).toHaveLength(1);
    expect(irc[0]?.server.port).toBe(8000);
    expect(events(flows).filter((e) => e.kind === 'login')).toEqual([expect.objectContaining({ account: 'molochtest', detail: expect.objectContaining({ username: 'xxxxx' }) })]);
    expect(events(flows).filter((e) => e.kind === 'message' && e.side === 'c2s')).toEqual([]);
    expectByteIdentical(flows);
  });

  test('zeek-irc-353: a bare malformed numeric line passes, nothing breaks', async () => {
    const flows = await replayIrc(cap('zeek-irc-353.pcap'));
    // "353 \n" is not a registration command: the probe says no, the stream
    // stays a plain (unknown) tunnel; fed to a session anyway it passes intact.
    const f = flows.find((x) => Buffer.concat(x.bytes.c2s).equals(Buffer.from('353 \n')));
    expect(f).toBeDefined();
    expect(f?.probe).toBe('no');
  });

  test('zeek-irc-starttls: STARTTLS, 670, then the TLS bytes pass untouched', async () => {
    const flows = await replayIrc(cap('zeek-irc-starttls.pcap'));
    const irc = ircFlows(flows);
    expect(irc).toHaveLength(1);
    const h = irc[0]!.harness!;
    expect(h.session.passthrough).toBe(true);
    expect(h.clientGot).toContain(':irc.joulunet.org 670  :STARTTLS successful, go ahead with TLS handshake');
    expectByteIdentical(flows);
  });
});
