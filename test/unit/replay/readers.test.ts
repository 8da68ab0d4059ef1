// The capture readers against every real capture in /work/shared/captures
// (frame counts as its README lists them) and against synthetic files for
// the variants the real ones do not cover.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFormatError, CaptureParser, decodePacket, readCapture, type CapturePacket } from '../../../src/replay';
import { ethernet, ipv4, ipv6, pcapFile, pcapngFile, tcpFrame, tcpHeader } from './helpers/build';

import { CAPTURES } from '../../captures';
const DIR = CAPTURES;

/** File -> frames, as /work/shared/captures/README.md lists them. */
const FRAMES: Record<string, number> = {
  'zeek-irc-basic.pcap': 34,
  'zeek-irc-whitespace.pcap': 36,
  'zeek-irc-more-commands.pcap': 145,
  'zeek-irc-353.pcap': 12,
  'zeek-irc-dcc-send.trace': 186,
  'zeek-irc-dcc-send.pcapng': 1184,
  'zeek-irc-dcc-first-command.pcap': 10,
  'zeek-irc-dcc-send-malformed-host.pcap': 1,
  'zeek-irc-dcc-send-malformed-port.pcap': 1,
  'zeek-irc-dcc-state-growth.pcapng': 8,
  'zeek-irc-starttls.pcap': 20,
  'ndpi-irc.pcap': 29,
  'arkime-irc-cap-req.pcap': 26,
  'suricata-verify-irc-input.pcap': 48,
  'ndpi-jabber.pcap': 376,
  'zeek-xmpp-starttls.pcap': 34,
  'zeek-xmpp-dialback-starttls.pcap': 37,
  'ndpi-msnms.pcap': 364,
  'chrissanders-msnms.pcap': 50,
  'ndpi-Oscar.pcap': 71,
  'ndpi-whatsapp.pcap': 679,
  'ndpi-whatsapp_login_chat.pcap': 93,
  'ndpi-whatsapp_voice_and_message.pcap': 261,
  'ndpi-whatsapp_login_call.pcap': 1253,
  'ndpi-whatsappfiles.pcap': 620,
  'ndpi-telegram.pcap': 1566,
  'ndpi-telegram_videocall.pcapng': 889,
  'ndpi-signal.pcap': 637,
  'ndpi-stun_signal.pcapng': 460,
  'ndpi-discord.pcap': 411,
  'ndpi-discord_mid_flow.pcap': 40,
  'ndpi-teams.pcap': 1540,
  'ndpi-stun_msteams_unidir.pcapng': 12,
  'ndpi-skype.pcap': 2509,
  'ndpi-skype-conference-call.pcap': 200,
  'ndpi-anyconnect-vpn.pcap': 589,
  'ndpi-sites.pcapng': 699,
  'ndpi-google_chat.pcapng': 6,
};

async function readAll(file: string): Promise<{ packets: CapturePacket[]; warnings: string[]; format: string }> {
  const packets: CapturePacket[] = [];
  const warnings: string[] = [];
  const format = await readCapture(file, {
    // The data is a view valid only during the callback: keep a copy.
    packet: (p) => packets.push({ ...p, data: Buffer.from(p.data) }),
    warn: (m) => warnings.push(m),
  });
  return { packets, warnings, format };
}

function parseBuffer(buf: Buffer, chunk = buf.length): { packets: CapturePacket[]; warnings: string[] } {
  const packets: CapturePacket[] = [];
  const warnings: string[] = [];
  const p = new CaptureParser({ packet: (x) => packets.push({ ...x, data: Buffer.from(x.data) }), warn: (m) => warnings.push(m) });
  for (let i = 0; i < buf.length; i += chunk) p.push(buf.subarray(i, i + chunk));
  p.end();
  return { packets, warnings };
}

describe('real captures', () => {
  it('the table covers all 38 files', () => {
    expect(Object.keys(FRAMES)).toHaveLength(38);
  });

  it.each(Object.entries(FRAMES))('%s has %d frames, every frame decodes', async (name, frames) => {
    const { packets, warnings, format } = await readAll(join(DIR, name));
    expect(warnings).toEqual([]);
    expect(packets).toHaveLength(frames);
    expect(format).toBe(name.endsWith('.pcapng') || ['ndpi-Oscar.pcap', 'ndpi-jabber.pcap', 'ndpi-discord.pcap'].includes(name) ? 'pcapng' : 'pcap');
    expect(packets.map((p) => p.frame)).toEqual(packets.map((_, i) => i + 1));
    // Every frame is something the decoder understands (TCP, UDP, or another protocol) - none malformed.
    for (const p of packets) expect(decodePacket(p).kind).not.toBe('malformed');
  });

  it('zeek-irc-starttls.pcap is Linux SLL (113) and carries the IRC STARTTLS exchange', async () => {
    const { packets } = await readAll(join(DIR, 'zeek-irc-starttls.pcap'));
    expect(new Set(packets.map((p) => p.linkType))).toEqual(new Set([113]));
    const payloads = packets.map((p) => decodePacket(p)).flatMap((d) => (d.kind === 'tcp' ? [d.seg.payload.toString('latin1')] : []));
    expect(payloads.some((s) => s.startsWith('STARTTLS'))).toBe(true);
    expect(payloads.some((s) => s.includes(':irc.joulunet.org 670  :STARTTLS successful, go ahead with TLS handshake'))).toBe(true);
  });

  it('arkime-irc-cap-req.pcap frames carry an 802.1Q tag (VLAN 100) and decode to TCP port 80', async () => {
    const { packets } = await readAll(join(DIR, 'arkime-irc-cap-req.pcap'));
    for (const p of packets) {
      expect(p.linkType).toBe(1);
      expect(p.data.readUInt16BE(12)).toBe(0x8100);
      expect(p.data.readUInt16BE(14) & 0x0fff).toBe(100);
      const d = decodePacket(p);
      expect(d.kind).toBe('tcp');
      if (d.kind === 'tcp') expect([d.seg.srcPort, d.seg.dstPort]).toContain(80);
    }
    const text = packets.map((p) => decodePacket(p)).flatMap((d) => (d.kind === 'tcp' ? [d.seg.payload.toString('latin1')] : [])).join('');
    expect(text).toContain('CAP REQ :twitch.tv/tags twitch.tv/commands');
    expect(text).toContain('NICK THE-USER');
  });

  it('zeek-irc-353.pcap is BSD loopback (null, 0) with an IPv4 and an IPv6 connection', async () => {
    const { packets } = await readAll(join(DIR, 'zeek-irc-353.pcap'));
    expect(packets[0]?.linkType).toBe(0);
    const segs = packets.map((p) => decodePacket(p)).flatMap((d) => (d.kind === 'tcp' ? [d.seg] : []));
    expect(segs).toHaveLength(12);
    expect(segs.some((s) => s.src === '::1')).toBe(true);
    expect(segs.some((s) => s.payload.equals(Buffer.from('353 \n')))).toBe(true);
  });

  it('pcapng files: interface link types and microsecond timestamps', async () => {
    const { packets } = await readAll(join(DIR, 'zeek-irc-dcc-send.pcapng'));
    expect(new Set(packets.map((p) => p.linkType))).toEqual(new Set([1]));
    // README: lab session of 2025-07-28.
    expect(new Date(packets[0]!.sec * 1000).toISOString().slice(0, 10)).toBe('2025-07-28');
    const jab = await readAll(join(DIR, 'ndpi-jabber.pcap'));
    expect(new Date(jab.packets[0]!.sec * 1000).getUTCFullYear()).toBe(2017);
    expect(jab.packets.every((p) => p.nsec >= 0 && p.nsec < 1e9)).toBe(true);
  });

  it('ndpi-discord_mid_flow.pcap (stacked VLAN tags + PPPoE) decodes to UDP', async () => {
    const { packets } = await readAll(join(DIR, 'ndpi-discord_mid_flow.pcap'));
    expect(packets.map((p) => decodePacket(p).kind)).toEqual(packets.map(() => 'udp'));
  });

  it('any chunking gives the same frames (1-byte and 7-byte chunks)', async () => {
    const { readFileSync } = await import('node:fs');
    for (const name of ['zeek-irc-basic.pcap', 'zeek-irc-dcc-state-growth.pcapng']) {
      const buf = readFileSync(join(DIR, name));
      const whole = parseBuffer(buf).packets;
      for (const size of [1, 7]) {
        const got = parseBuffer(buf, size).packets;
        expect(got.map((p) => p.data.toString('hex'))).toEqual(whole.map((p) => p.data.toString('hex')));
        expect(got.map((p) => p.offset)).toEqual(whole.map((p) => p.offset));
      }
    }
  });
});

describe('synthetic pcap variants', () => {
  const frame = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 6667, seq: 1, flags: 'PA', data: 'NICK x\r\n' });

  it.each([
    ['little-endian microseconds', { be: false, nanos: false }, 250_000, 250_000_000],
    ['big-endian microseconds', { be: true, nanos: false }, 250_000, 250_000_000],
    ['little-endian nanoseconds', { be: false, nanos: true }, 123_456_789, 123_456_789],
    ['big-endian nanoseconds', { be: true, nanos: true }, 123_456_789, 123_456_789],
  ])('%s', (_n, o, frac, nsec) => {
    const { packets } = parseBuffer(pcapFile(1, [{ data: frame, sec: 1_700_000_000, frac }], o));
    expect(packets).toHaveLength(1);
    expect(packets[0]).toMatchObject({ frame: 1, offset: 24, linkType: 1, sec: 1_700_000_000, nsec });
    expect(packets[0]!.data.equals(frame)).toBe(true);
  });

  it('raw IP link types 101, 228, 229 and 12', () => {
    const t = tcpHeader({ src: '', dst: '', sport: 5, dport: 6, seq: 9, flags: 'A', data: 'x' });
    const v4 = ipv4('192.0.2.1', '192.0.2.2', 6, t);
    const v6 = ipv6(1, 2, 6, t);
    for (const [lt, pkt, src] of [
      [101, v4, '192.0.2.1'],
      [228, v4, '192.0.2.1'],
      [229, v6, '2001::1'],
      [101, v6, '2001::1'],
      [12, v4, '192.0.2.1'],
    ] as const) {
      const d = decodePacket(parseBuffer(pcapFile(lt, [{ data: pkt }])).packets[0]!);
      expect(d.kind).toBe('tcp');
      if (d.kind === 'tcp') expect(d.seg).toMatchObject({ src, srcPort: 5, dstPort: 6, seq: 9 });
    }
  });

  it('BSD null in both byte orders, Linux SLL, SLL2', () => {
    const t = tcpHeader({ src: '', dst: '', sport: 5, dport: 6, seq: 9, flags: 'A' });
    const v4 = ipv4('192.0.2.1', '192.0.2.2', 6, t);
    const famLE = Buffer.from([2, 0, 0, 0]);
    const famBE = Buffer.from([0, 0, 0, 2]);
    const sll = Buffer.alloc(16);
    sll.writeUInt16BE(0x0800, 14);
    const sll2 = Buffer.alloc(20);
    sll2.writeUInt16BE(0x0800, 0);
    for (const [lt, data] of [
      [0, Buffer.concat([famLE, v4])],
      [0, Buffer.concat([famBE, v4])],
      [108, Buffer.concat([famBE, v4])],
      [113, Buffer.concat([sll, v4])],
      [276, Buffer.concat([sll2, v4])],
    ] as const) {
      expect(decodePacket(parseBuffer(pcapFile(lt, [{ data }])).packets[0]!).kind).toBe('tcp');
    }
  });

  it('Ethernet with stacked VLAN tags, IPv6 extension headers, fragments, UDP', () => {
    const t = tcpHeader({ src: '', dst: '', sport: 5, dport: 6, seq: 9, flags: 'A' });
    const one = (data: Buffer) => decodePacket(parseBuffer(pcapFile(1, [{ data }])).packets[0]!).kind;
    expect(one(ethernet(ipv4('10.0.0.1', '10.0.0.2', 6, t), [100, 200]))).toBe('tcp');
    expect(one(ethernet(ipv6(1, 2, 6, t, [[0, 0], [60, 1], [43, 0]]), [], 0x86dd))).toBe('tcp');
    expect(one(ethernet(ipv6(1, 2, 6, t, [[44, 0]]), [], 0x86dd))).toBe('fragment');
    expect(one(ethernet(ipv4('10.0.0.1', '10.0.0.2', 6, t, 0, true)))).toBe('fragment');
    expect(one(ethernet(ipv4('10.0.0.1', '10.0.0.2', 6, t, 10)))).toBe('fragment');
    expect(one(ethernet(ipv4('10.0.0.1', '10.0.0.2', 17, Buffer.alloc(8))))).toBe('udp');
    expect(one(ethernet(Buffer.alloc(28), [], 0x0806))).toBe('other'); // ARP
    expect(one(Buffer.alloc(10))).toBe('malformed');
  });

  it('a corrupt record length is an error naming the offset; a cut record is a warning', () => {
    const file = pcapFile(1, [{ data: frame }, { data: frame }]);
    const bad = Buffer.from(file);
    const rec2 = 24 + 16 + frame.length;
    bad.writeUInt32LE(0x7fffffff, rec2 + 8);
    expect(() => parseBuffer(bad)).toThrow(new CaptureFormatError(rec2, 'pcap record 2 declares 2147483647 captured bytes (limit 16777216): corrupt record header'));
    const cut = parseBuffer(file.subarray(0, file.length - 3));
    expect(cut.packets).toHaveLength(1);
    expect(cut.warnings).toEqual([`offset ${rec2}: capture truncated inside record 2; 1 complete records read`]);
  });

  it('not a capture: error at offset 0 naming the first bytes', () => {
    expect(() => parseBuffer(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow('offset 0: neither pcap nor pcapng (first bytes 47455420)');
    expect(() => parseBuffer(Buffer.from([0xd4, 0xc3]))).toThrow('offset 0: file too short to be a capture (2 bytes)');
  });

  it('readCapture prefixes the file name; a missing file rejects with ENOENT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imgate-replay-'));
    try {
      const f = join(dir, 'x.pcap');
      writeFileSync(f, Buffer.from('hello world, not a capture'));
      await expect(readCapture(f, { packet: () => {}, warn: () => {} })).rejects.toThrow(`${f}: offset 0: neither pcap nor pcapng`);
      await expect(readCapture(join(dir, 'none.pcap'), { packet: () => {}, warn: () => {} })).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('synthetic pcapng variants', () => {
  const f1 = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, seq: 1, flags: 'A' });
  const raw = ipv4('10.0.0.3', '10.0.0.4', 6, tcpHeader({ src: '', dst: '', sport: 3, dport: 4, seq: 1, flags: 'A' }));

  it.each([false, true])('big-endian=%s: EPB/OPB/SPB, per-interface link types, tsresol, skipped blocks', (be) => {
    const file = pcapngFile(
      [{ linkType: 1 }, { linkType: 101, tsresol: 9 }],
      [
        { kind: 'epb', iface: 0, data: f1, ts: 1_700_000_000_123_456n },
        { kind: 'epb', iface: 1, data: raw, ts: 1_700_000_000_987_654_321n },
        { kind: 'opb', iface: 1, data: raw, ts: 1_700_000_001_000_000_001n },
        { kind: 'spb', data: f1 },
      ],
      { be, extraBlock: true },
    );
    const { packets, warnings } = parseBuffer(file);
    expect(warnings).toEqual([]);
    expect(packets.map((p) => [p.frame, p.linkType, p.sec, p.nsec])).toEqual([
      [1, 1, 1_700_000_000, 123_456_000],
      [2, 101, 1_700_000_000, 987_654_321],
      [3, 101, 1_700_000_001, 1],
      [4, 1, 0, 0],
    ]);
    expect(packets.map((p) => decodePacket(p).kind)).toEqual(['tcp', 'tcp', 'tcp', 'tcp']);
  });

  it('binary tsresol (2^-20)', () => {
    const { packets } = parseBuffer(pcapngFile([{ linkType: 1, tsresol: 0x80 | 20 }], [{ kind: 'epb', iface: 0, data: f1, ts: (5n << 20n) + (1n << 19n) }]));
    expect(packets[0]).toMatchObject({ sec: 5, nsec: 500_000_000 });
  });

  it('a mismatched trailing length is an error naming the block offset', () => {
    const file = Buffer.from(pcapngFile([{ linkType: 1 }], [{ kind: 'epb', iface: 0, data: f1 }]));
    const shbLen = file.readUInt32LE(4);
    const idbLen = file.readUInt32LE(shbLen + 4);
    const epbAt = shbLen + idbLen;
    file.writeUInt32LE(4, file.length - 4);
    expect(() => parseBuffer(file)).toThrow(`offset ${epbAt}: block trailing length 4 differs from its leading length ${file.length - epbAt}`);
  });

  it('a packet naming an undefined interface is skipped with a warning', () => {
    const { packets, warnings } = parseBuffer(pcapngFile([{ linkType: 1 }], [{ kind: 'epb', iface: 3, data: f1 }]));
    expect(packets).toEqual([]);
    expect(warnings[0]).toMatch(/packet 1 names undefined interface 3: skipped/);
  });
});
