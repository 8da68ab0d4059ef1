// Builders for small synthetic captures: frames (Ethernet/IPv4/IPv6/TCP)
// and pcap/pcapng files in either byte order.
import { ProtocolModule, Side } from '../../../../src/protocols/types';

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: string; // letters: S A F R P
  data?: Buffer | string;
}

const FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10 };

export function tcpHeader(t: TcpSpec): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(t.sport, 0);
  h.writeUInt16BE(t.dport, 2);
  h.writeUInt32BE(t.seq >>> 0, 4);
  h.writeUInt32BE((t.ack ?? 0) >>> 0, 8);
  h[12] = 5 << 4;
  let f = 0;
  for (const c of t.flags) f |= FLAG_BITS[c] ?? 0;
  h[13] = f;
  h.writeUInt16BE(65535, 14);
  const data = typeof t.data === 'string' ? Buffer.from(t.data) : (t.data ?? Buffer.alloc(0));
  return Buffer.concat([h, data]);
}

function ip4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

export function ipv4(src: string, dst: string, proto: number, payload: Buffer, fragOffset = 0, mf = false): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE((mf ? 0x2000 : 0) | fragOffset, 6);
  h[8] = 64;
  h[9] = proto;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

/** IPv6 with optional extension headers (each given as [nextHeaderType, 8-byte-multiple body]). */
export function ipv6(srcLast: number, dstLast: number, proto: number, payload: Buffer, ext: Array<[number, number]> = []): Buffer {
  // ext: list of [type, lengthIn8Octets-1]; chain builds next-header fields.
  const parts: Buffer[] = [];
  const types = ext.map((e) => e[0]);
  for (let i = 0; i < ext.length; i++) {
    const [, len8] = ext[i] as [number, number];
    const b = Buffer.alloc((len8 + 1) * 8);
    b[0] = i + 1 < ext.length ? (types[i + 1] as number) : proto;
    b[1] = len8;
    parts.push(b);
  }
  const body = Buffer.concat([...parts, payload]);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(body.length, 4);
  h[6] = ext.length > 0 ? (types[0] as number) : proto;
  h[7] = 64;
  h[8] = 0x20;
  h[9] = 0x01;
  h[23] = srcLast;
  h[24] = 0x20;
  h[25] = 0x01;
  h[39] = dstLast;
  return Buffer.concat([h, body]);
}

export function ethernet(ipPacket: Buffer, vlans: number[] = [], etherType = 0x0800): Buffer {
  const tags = vlans.map((v) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(0x8100, 0);
    t.writeUInt16BE(v, 2);
    return t;
  });
  const et = Buffer.alloc(2);
  et.writeUInt16BE(etherType, 0);
  return Buffer.concat([Buffer.alloc(12, 0xaa), ...tags, et, ipPacket]);
}

export function tcpFrame(t: TcpSpec, vlans: number[] = []): Buffer {
  return ethernet(ipv4(t.src, t.dst, 6, tcpHeader(t)), vlans);
}

export interface Rec {
  data: Buffer;
  sec?: number;
  frac?: number;
}

export function pcapFile(linkType: number, recs: Rec[], o: { be?: boolean; nanos?: boolean } = {}): Buffer {
  const be = o.be ?? false;
  const u32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const u16 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const g = Buffer.alloc(24);
  u32(g, o.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(g, 2, 4);
  u16(g, 4, 6);
  u32(g, 262144, 16);
  u32(g, linkType, 20);
  const parts: Buffer[] = [g];
  for (const r of recs) {
    const h = Buffer.alloc(16);
    u32(h, r.sec ?? 1_600_000_000, 0);
    u32(h, r.frac ?? 0, 4);
    u32(h, r.data.length, 8);
    u32(h, r.data.length, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

export interface NgIface {
  linkType: number;
  tsresol?: number;
  snapLen?: number;
}

export type NgPacket = { kind: 'epb' | 'opb'; iface: number; data: Buffer; ts?: bigint } | { kind: 'spb'; data: Buffer };

export function pcapngFile(ifaces: NgIface[], packets: NgPacket[], o: { be?: boolean; extraBlock?: boolean } = {}): Buffer {
  const be = o.be ?? false;
  const block = (type: number, body: Buffer): Buffer => {
    const pad = (4 - (body.length % 4)) % 4;
    const len = 12 + body.length + pad;
    const b = Buffer.alloc(len);
    if (be) {
      b.writeUInt32BE(type, 0);
      b.writeUInt32BE(len, 4);
      b.writeUInt32BE(len, len - 4);
    } else {
      b.writeUInt32LE(type, 0);
      b.writeUInt32LE(len, 4);
      b.writeUInt32LE(len, len - 4);
    }
    body.copy(b, 8);
    return b;
  };
  const w32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const w16 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const shb = Buffer.alloc(16);
  w32(shb, 0x1a2b3c4d, 0);
  w16(shb, 1, 4);
  shb.fill(0xff, 8, 16);
  const parts = [block(0x0a0d0d0a, shb)];
  for (const f of ifaces) {
    const opts: Buffer[] = [];
    if (f.tsresol !== undefined) {
      const op = Buffer.alloc(8);
      w16(op, 9, 0);
      w16(op, 1, 2);
      op[4] = f.tsresol;
      opts.push(op);
    }
    opts.push(Buffer.alloc(4)); // opt_endofopt
    const body = Buffer.alloc(8);
    w16(body, f.linkType, 0);
    w32(body, f.snapLen ?? 0, 4);
    parts.push(block(1, Buffer.concat([body, ...opts])));
  }
  if (o.extraBlock) parts.push(block(5, Buffer.alloc(20))); // interface statistics: skipped
  for (const p of packets) {
    if (p.kind === 'spb') {
      const body = Buffer.alloc(4);
      w32(body, p.data.length, 0);
      parts.push(block(3, Buffer.concat([body, p.data])));
      continue;
    }
    const ts = p.ts ?? 1_600_000_000_000_000n;
    const body = Buffer.alloc(20);
    if (p.kind === 'epb') w32(body, p.iface, 0);
    else w16(body, p.iface, 0);
    w32(body, Number(ts >> 32n), 4);
    w32(body, Number(ts & 0xffffffffn), 8);
    w32(body, p.data.length, 12);
    w32(body, p.data.length, 16);
    parts.push(block(p.kind === 'epb' ? 6 : 2, Buffer.concat([body, p.data])));
  }
  return Buffer.concat(parts);
}

/** A test module that matches everything and records each side's bytes per connection. */
export function recorder(): { module: ProtocolModule; streams: Map<string, Record<Side, Buffer[]>>; ends: Map<string, Side[]> } {
  const streams = new Map<string, Record<Side, Buffer[]>>();
  const ends = new Map<string, Side[]>();
  const module: ProtocolModule = {
    name: 'recorder',
    probe: () => 'match',
    create(ctx, out) {
      const s: Record<Side, Buffer[]> = { c2s: [], s2c: [] };
      streams.set(ctx.conn, s);
      ends.set(ctx.conn, []);
      return {
        passthrough: false,
        push(from, chunk) {
          s[from].push(Buffer.from(chunk));
          out.forward(from, chunk);
        },
        end(from) {
          ends.get(ctx.conn)?.push(from);
        },
      };
    },
  };
  return { module, streams, ends };
}

export function joined(streams: Map<string, Record<Side, Buffer[]>>, conn: string, side: Side): Buffer {
  return Buffer.concat(streams.get(conn)?.[side] ?? []);
}
