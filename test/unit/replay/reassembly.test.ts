// TCP reassembly and session driving: the exact bytes of real IM sessions
// come out of the reassembler (recorded by a test module that matches every
// connection), plus synthetic reorder/overlap/gap/orientation/eviction cases.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProtocolModule } from '../../../src/protocols/types';
import { replayCapture, type ReplayResult } from '../../../src/replay';
import { joined, pcapFile, recorder, tcpFrame, type TcpSpec } from './helpers/build';

import { CAPTURES } from '../../captures';
const DIR = CAPTURES;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('real captures through a recording module', () => {
  it('ndpi-jabber.pcap tcp stream 5 carries the exact XMPP chat message and its echo', async () => {
    const rec = recorder();
    const r = await replayCapture(join(DIR, 'ndpi-jabber.pcap'), { modules: [rec.module] });
    const c5 = r.connections.find((c) => c.conn === 'tcp-5');
    expect(c5).toMatchObject({ client: '172.16.0.62:57149', server: '172.16.1.138:5222', protocol: 'recorder' });
    const out = joined(rec.streams, 'tcp-5', 'c2s').toString('utf8');
    const back = joined(rec.streams, 'tcp-5', 's2c').toString('utf8');
    expect(out).toContain(
      "<message type='chat' id='purplebea68aeb' to='chatback@cs-xmpp.lan'><active xmlns='http://jabber.org/protocol/chatstates'/><body>hey</body></message>",
    );
    expect(back).toMatch(
      /<message xml:lang='en' to='tom@cs-xmpp.lan\/darkstar' from='chatback@cs-xmpp.lan\/104588072251790900698' type='chat' id='purplebea68aeb'>.*?<body>hey<\/body><\/message>/,
    );
    // README: 7 connections to 5222 and 5 to 5223; some segments are missing (gaps counted).
    expect(r.connections).toHaveLength(12);
    expect(r.connections.filter((c) => c.server.endsWith(':5222'))).toHaveLength(7);
    expect(r.connections.filter((c) => c.server.endsWith(':5223'))).toHaveLength(5);
    expect(r.connections.reduce((n, c) => n + c.gaps.c2s + c.gaps.s2c, 0)).toBeGreaterThan(0);
    // Every byte the module forwarded is what was reassembled.
    for (const c of r.connections) expect(c.forwarded).toEqual(c.bytes);
  });

  it('chrissanders-msnms.pcap: the exact MSN switchboard lines and message bodies', async () => {
    const rec = recorder();
    const r = await replayCapture(join(DIR, 'chrissanders-msnms.pcap'), { modules: [rec.module] });
    expect(r.connections).toHaveLength(1);
    expect(r.connections[0]).toMatchObject({ client: '192.168.0.114:3331', server: '207.46.26.167:1863', orientedBy: 'syn' });
    const c2s = joined(rec.streams, 'tcp-0', 'c2s').toString('utf8');
    const s2c = joined(rec.streams, 'tcp-0', 's2c').toString('utf8');
    expect(c2s.startsWith('USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\nCAL 94 tesla_thomas@hotmail.com\r\n')).toBe(true);
    expect(s2c.startsWith('USR 93 OK tesla_brian@hotmail.com Brian\r\nCAL 94 RINGING 1835953129\r\nJOI tesla_thomas@hotmail.com Thomas 1616756780\r\n')).toBe(true);
    // Split the payload commands by their byte lengths, as MSNP does.
    const msgs = (s: string, head: RegExp) => {
      const out: Array<{ line: string; body: string }> = [];
      const buf = Buffer.from(s, 'utf8');
      let at = 0;
      while (at < buf.length) {
        const eol = buf.indexOf('\r\n', at);
        const line = buf.subarray(at, eol).toString('utf8');
        at = eol + 2;
        const m = /^MSG .* (\d+)$/.exec(line);
        if (!m) continue;
        const payload = buf.subarray(at, at + Number(m[1])).toString('utf8');
        at += Number(m[1]);
        if (head.test(line) && payload.includes('Content-Type: text/plain')) out.push({ line, body: payload.slice(payload.indexOf('\r\n\r\n') + 4) });
      }
      return out;
    };
    expect(msgs(c2s, /^MSG \d+ N/)).toEqual([
      { line: 'MSG 96 N 132', body: 'Hey Brian' },
      { line: 'MSG 99 N 178', body: 'Not much, did you hear about the new IT guy they hired?' },
      { line: 'MSG 103 N 142', body: "I've heard the same" },
      { line: 'MSG 106 N 140', body: 'sounds good to me' },
    ]);
    expect(msgs(s2c, /^MSG tesla_thomas/)).toEqual([
      { line: 'MSG tesla_thomas@hotmail.com Thomas 141', body: 'Hey man, whats up?' },
      { line: 'MSG tesla_thomas@hotmail.com Thomas 156', body: 'ohh yea, i hear he is a real jerk' },
      { line: 'MSG tesla_thomas@hotmail.com Thomas 182', body: 'maybe we should try hacking into a server to mess with him?' },
    ]);
  });

  it('zeek-irc-dcc-send.trace: the 42208-byte DCC file reassembles to its SHA-256', async () => {
    const rec = recorder();
    const r = await replayCapture(join(DIR, 'zeek-irc-dcc-send.trace'), { modules: [rec.module] });
    const dcc = r.connections.find((c) => c.server === '209.197.168.151:1024');
    expect(dcc).toMatchObject({ client: '192.168.1.77:57655', bytes: { s2c: 42208, c2s: 31 * 4 }, gaps: { c2s: 0, s2c: 0 }, tcp: 'fin' });
    const data = joined(rec.streams, dcc!.conn, 's2c');
    expect(data.length).toBe(42208);
    expect(data.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    expect(sha256(data)).toBe('e4f0b0b9d7580e7a22dc1093c8db4df7d0115a4f3b03cc2875cc69705f0d0204');
    expect(rec.ends.get(dcc!.conn)).toEqual(expect.arrayContaining(['c2s', 's2c']));
    const irc = joined(rec.streams, 'tcp-0', 's2c').toString('latin1');
    expect(irc).toContain(
      ':ladyvampress!~who_cares@ladyvampress.users.undernet.org PRIVMSG bloed :\x01DCC SEND ladyvampress-default(2011-07-07)-OS.zip 3519391895 1024 42208\x01',
    );
  });

  it('zeek-irc-dcc-send.pcapng: 1320211 DCC bytes with the right SHA-256, and the DCC CHAT lines', async () => {
    const rec = recorder();
    const r = await replayCapture(join(DIR, 'zeek-irc-dcc-send.pcapng'), { modules: [rec.module] });
    const send = r.connections.find((c) => c.client === '10.0.0.22:43614');
    expect(send).toMatchObject({ server: '10.0.0.7:59130', bytes: { s2c: 1320211, c2s: 88 * 4 } });
    const data = joined(rec.streams, send!.conn, 's2c');
    expect(sha256(data)).toBe('566c4819a8130d65d29076930bd46dde5c2595a4a8be4a380857feb5b430ec6e');
    expect(data.subarray(0, 4).toString('hex')).toBe('d4c3b2a1');
    const chat = r.connections.find((c) => c.client === '10.0.0.22:38016')!;
    expect(joined(rec.streams, chat.conn, 'c2s').toString()).toBe('hello, are you there?\n');
    expect(joined(rec.streams, chat.conn, 's2c').toString()).toBe('yes i am!\n');
    expect(joined(rec.streams, 'tcp-0', 'c2s').toString()).toContain('PRIVMSG tim1 :\x01DCC SEND ssh.trace 167772167 59130 1320211\x01');
    // Bounded: nothing was held out of order in this clean capture.
    expect(r.stats.peakHeldBytes).toBe(0);
  });

  it('events carry conn, capture time, endpoints and the verdict from decide', async () => {
    const seen: string[] = [];
    const mod: ProtocolModule = {
      name: 'msn-lines',
      probe: (_s, head) => (head.toString('latin1').startsWith('USR ') ? 'match' : head.length < 4 ? 'more' : 'no'),
      create(ctx, out) {
        return {
          passthrough: false,
          push(from, chunk) {
            const text = chunk.toString('latin1');
            if (from === 'c2s' && text.includes('Hey Brian')) {
              const v = ctx.decide({ kind: 'message', side: 'c2s', protocol: 'msn-lines', account: 'tesla_brian@hotmail.com', text: 'Hey Brian' });
              seen.push(v.action);
            }
            out.forward(from, chunk);
          },
          end() {},
        };
      },
    };
    const r = await replayCapture(join(DIR, 'chrissanders-msnms.pcap'), {
      modules: [mod],
      decide: (ev, conn) => ({ action: ev.text?.includes('Brian') && conn.serverPort === 1863 ? 'block' : 'allow', rule: 'r1' }),
    });
    expect(seen).toEqual(['block']);
    expect(r.events).toEqual([
      {
        kind: 'message',
        side: 'c2s',
        protocol: 'msn-lines',
        account: 'tesla_brian@hotmail.com',
        text: 'Hey Brian',
        conn: 'tcp-0',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        client: '192.168.0.114:3331',
        server: '207.46.26.167:1863',
        verdict: { action: 'block', rule: 'r1' },
      },
    ]);
    expect(r.connections[0]).toMatchObject({ protocol: 'msn-lines', events: 1 });
  });

  it('unknown protocols get a fingerprint of their first 16 bytes; UDP is counted', async () => {
    const r = await replayCapture(join(DIR, 'ndpi-whatsapp_voice_and_message.pcap'), { modules: [] });
    expect(r.stats.udpPackets).toBe(44);
    for (const c of r.connections) {
      expect(c.protocol).toBe('unknown');
      if (c.bytes.c2s + c.bytes.s2c > 0) expect(c.fingerprint).toMatch(/^[0-9a-f]{2,32}$/);
    }
    // "WA\x01\x05" login on 5222.
    expect(r.connections.some((c) => c.server.endsWith(':5222') && c.fingerprint?.startsWith('57410105'))).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Synthetic streams

const C = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 6667 };
const S = { src: '10.0.0.2', dst: '10.0.0.1', sport: 6667, dport: 40000 };

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'imgate-reasm-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function run(specs: TcpSpec[], limits?: Parameters<typeof replayCapture>[1]['limits']): Promise<{ r: ReplayResult; rec: ReturnType<typeof recorder> }> {
  const f = join(tmp, `s${n++}.pcap`);
  writeFileSync(f, pcapFile(1, specs.map((s, i) => ({ data: tcpFrame(s), sec: 1_700_000_000 + i }))));
  const rec = recorder();
  const r = await replayCapture(f, { modules: [rec.module], ...(limits ? { limits } : {}) });
  return { r, rec };
}

const ISN_C = 1000;
const ISN_S = 0xfffffff0; // the server's sequence numbers wrap around 2^32
const handshake: TcpSpec[] = [
  { ...C, seq: ISN_C, flags: 'S' },
  { ...S, seq: ISN_S, ack: ISN_C + 1, flags: 'SA' },
  { ...C, seq: ISN_C + 1, ack: ISN_S + 1, flags: 'A' },
];

describe('synthetic reassembly', () => {
  it('orders out-of-order segments, trims retransmissions and overlaps, wraps sequence numbers', async () => {
    const s0 = (ISN_S + 1) >>> 0;
    const { r, rec } = await run([
      ...handshake,
      { ...C, seq: ISN_C + 1 + 6, flags: 'PA', data: 'world\r\n' },
      { ...C, seq: ISN_C + 1, flags: 'PA', data: 'hello ' },
      { ...C, seq: ISN_C + 1, flags: 'PA', data: 'hello wo' }, // retransmission overlapping both
      { ...S, seq: s0, flags: 'PA', data: 'abcdefghijklmnopqrstuvwxyz' }, // crosses 2^32
      { ...S, seq: (s0 + 20) >>> 0, flags: 'PA', data: 'uvwxyz0123' }, // overlap: only "0123" is new
      { ...C, seq: ISN_C + 14, flags: 'FA' },
      { ...S, seq: (s0 + 30) >>> 0, flags: 'FA' },
    ]);
    expect(joined(rec.streams, 'tcp-0', 'c2s').toString()).toBe('hello world\r\n');
    expect(joined(rec.streams, 'tcp-0', 's2c').toString()).toBe('abcdefghijklmnopqrstuvwxyz0123');
    expect(r.connections[0]).toMatchObject({ client: '10.0.0.1:40000', server: '10.0.0.2:6667', orientedBy: 'syn', tcp: 'fin', closed: 'fin', gaps: { c2s: 0, s2c: 0 } });
    expect(rec.ends.get('tcp-0')).toEqual(['c2s', 's2c']);
  });

  it('a missing segment: the data after it is pushed once the peer ACKs past the hole, and the gap is counted', async () => {
    const { r, rec } = await run([
      ...handshake,
      { ...C, seq: ISN_C + 1, flags: 'PA', data: 'one\r\n' },
      // "two\r\n" (5 bytes) was never captured
      { ...C, seq: ISN_C + 11, flags: 'PA', data: 'three\r\n' },
      { ...S, seq: ISN_S + 1, ack: ISN_C + 18, flags: 'A' },
    ]);
    expect(joined(rec.streams, 'tcp-0', 'c2s').toString()).toBe('one\r\nthree\r\n');
    expect(r.connections[0]).toMatchObject({ gaps: { c2s: 1, s2c: 0 }, gapBytes: { c2s: 5, s2c: 0 }, tcp: 'open' });
  });

  it('out-of-order data beyond the per-direction cap is pushed with a gap (bounded memory)', async () => {
    const specs: TcpSpec[] = [...handshake];
    // The first 100 bytes never arrive; 50 later segments of 100 bytes do.
    for (let i = 1; i <= 50; i++) specs.push({ ...C, seq: ISN_C + 1 + i * 100, flags: 'PA', data: Buffer.alloc(100, 65 + (i % 26)) });
    const { r, rec } = await run(specs, { maxOooBytes: 1000 });
    expect(joined(rec.streams, 'tcp-0', 'c2s').length).toBe(5000);
    expect(r.stats.peakHeldBytes).toBeLessThanOrEqual(1100);
    expect(r.connections[0]!.gaps.c2s).toBe(1);
  });

  it('RST ends both sides', async () => {
    const { r, rec } = await run([...handshake, { ...C, seq: ISN_C + 1, flags: 'PA', data: 'x' }, { ...S, seq: ISN_S + 1, flags: 'R' }]);
    expect(r.connections[0]).toMatchObject({ tcp: 'rst', closed: 'rst' });
    expect(rec.ends.get('tcp-0')?.sort()).toEqual(['c2s', 's2c']);
  });

  it('no SYN: the first talker is the client; with no payload at all, the well-known port is the server', async () => {
    const a = await run([
      { ...S, seq: 5, ack: 9, flags: 'A' },
      { ...C, seq: 9, ack: 5, flags: 'PA', data: 'NICK a\r\n' },
      { ...S, seq: 5, ack: 17, flags: 'PA', data: ':srv 001 a\r\n' },
    ]);
    expect(a.r.connections[0]).toMatchObject({ client: '10.0.0.1:40000', server: '10.0.0.2:6667', orientedBy: 'first-talker' });
    expect(joined(a.rec.streams, 'tcp-0', 's2c').toString()).toBe(':srv 001 a\r\n');
    const b = await run([{ ...S, seq: 5, ack: 9, flags: 'A' }, { ...C, seq: 9, ack: 5, flags: 'A' }]);
    expect(b.r.connections[0]).toMatchObject({ client: '10.0.0.1:40000', server: '10.0.0.2:6667', orientedBy: 'ports' });
  });

  it('a SYN-ACK alone orients the connection', async () => {
    const { r } = await run([{ ...S, seq: ISN_S, ack: ISN_C + 1, flags: 'SA' }, { ...C, seq: ISN_C + 1, flags: 'PA', data: 'hi' }]);
    expect(r.connections[0]).toMatchObject({ client: '10.0.0.1:40000', orientedBy: 'syn', bytes: { c2s: 2, s2c: 0 } });
  });

  it('port reuse after close is a new connection', async () => {
    const { r } = await run([
      ...handshake,
      { ...C, seq: ISN_C + 1, flags: 'FA' },
      { ...S, seq: ISN_S + 1, flags: 'FA' },
      { ...C, seq: 77, flags: 'S' },
      { ...C, seq: 78, flags: 'PA', data: 'again' },
    ]);
    expect(r.connections.map((c) => [c.conn, c.tcp, c.bytes.c2s])).toEqual([
      ['tcp-0', 'fin', 0],
      ['tcp-1', 'open', 5],
    ]);
  });

  it('live connections are capped: the least recently used is evicted with a warning', async () => {
    const specs: TcpSpec[] = [];
    for (let i = 0; i < 10; i++) specs.push({ ...C, sport: 41000 + i, seq: 1, flags: 'S' }, { ...C, sport: 41000 + i, seq: 2, flags: 'PA', data: `c${i}` });
    const { r } = await run(specs, { maxConnections: 3 });
    expect(r.connections).toHaveLength(10);
    expect(r.stats.peakConnections).toBe(3);
    expect(r.stats.evictedConnections).toBe(7);
    expect(r.connections.filter((c) => c.tcp === 'evicted').map((c) => c.conn)).toEqual(['tcp-0', 'tcp-1', 'tcp-2', 'tcp-3', 'tcp-4', 'tcp-5', 'tcp-6']);
    expect(r.warnings[0]).toBe('tcp-0 10.0.0.1:41000 -> 10.0.0.2:6667: evicted (more than 3 live connections)');
    expect(r.warnings).toContain('7 live connections evicted (limit 3)');
  });

  it("probe 'more' waits for bytes, up to the bound; a dissector's close is recorded", async () => {
    const mod: ProtocolModule = {
      name: 'needs-ten',
      probe: (_s, head) => (head.length < 10 ? 'more' : head.toString().startsWith('HELLO') ? 'match' : 'no'),
      create(_ctx, out) {
        return {
          passthrough: false,
          push: (from, chunk) => (chunk.includes('BAD') ? out.close('bad framing: BAD') : out.forward(from, chunk)),
          end() {},
        };
      },
    };
    const f = join(tmp, 'probe.pcap');
    writeFileSync(
      f,
      pcapFile(1, [
        ...handshake.map((s) => ({ data: tcpFrame(s) })),
        { data: tcpFrame({ ...C, seq: ISN_C + 1, flags: 'PA', data: 'HELL' }) },
        { data: tcpFrame({ ...C, seq: ISN_C + 5, flags: 'PA', data: 'O WORLD\n' }) },
        { data: tcpFrame({ ...C, seq: ISN_C + 13, flags: 'PA', data: 'BAD\n' }) },
        { data: tcpFrame({ ...C, seq: ISN_C + 17, flags: 'PA', data: 'more\n' }) },
      ]),
    );
    const r = await replayCapture(f, { modules: [mod] });
    expect(r.connections[0]).toMatchObject({ protocol: 'needs-ten', forwarded: { c2s: 12, s2c: 0 }, bytes: { c2s: 21 }, closed: 'bad framing: BAD' });
    expect(r.warnings).toContain('tcp-0 10.0.0.1:40000 -> 10.0.0.2:6667: needs-ten closed the connection: bad framing: BAD');
    // A probe that says 'more' forever is treated as 'no' after probeMaxBytes.
    const never: ProtocolModule = { ...mod, name: 'never', probe: () => 'more' };
    const r2 = await replayCapture(f, { modules: [never], limits: { probeMaxBytes: 8 } });
    expect(r2.connections[0]).toMatchObject({ protocol: 'unknown', fingerprint: Buffer.from('HELLO WORLD\nBAD\n').toString('hex') });
  });
});
