// Frame -> TCP segment: link layer (Ethernet with 802.1Q/QinQ tags and PPPoE, Linux
// SLL/SLL2, raw IP, BSD null/loop), IPv4 or IPv6 (extension headers skipped,
// fragments reported), then the TCP header. Checksums are not verified:
// captures taken on the sending host carry offloaded, unfilled checksums.
import type { CapturePacket } from './types';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

export interface TcpSegment {
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly payload: Buffer;
}

export type Decoded =
  | { kind: 'tcp'; seg: TcpSegment }
  | { kind: 'udp' }
  | { kind: 'fragment' }
  | { kind: 'other' }
  | { kind: 'malformed'; why: string };

const OTHER: Decoded = { kind: 'other' };
const UDP: Decoded = { kind: 'udp' };
const FRAGMENT: Decoded = { kind: 'fragment' };

const malformed = (why: string): Decoded => ({ kind: 'malformed', why });

/** Link types whose payload starts with an IP header. */
const RAW_IP = new Set([12, 14, 101, 228, 229]);

export function decodePacket(p: CapturePacket): Decoded {
  const d = p.data;
  const lt = p.linkType;
  if (lt === 1) return ethernet(d);
  if (lt === 113) {
    if (d.length < 16) return malformed('truncated Linux cooked header');
    return byEtherType(d.readUInt16BE(14), d, 16);
  }
  if (lt === 276) {
    if (d.length < 20) return malformed('truncated Linux cooked v2 header');
    return byEtherType(d.readUInt16BE(0), d, 20);
  }
  if (RAW_IP.has(lt)) return ip(d, 0);
  if (lt === 0 || lt === 108) {
    if (d.length < 4) return malformed('truncated loopback header');
    // DLT_NULL stores the family in the capturing host's byte order.
    const le = d.readUInt32LE(0);
    const fam = lt === 108 ? d.readUInt32BE(0) : le < 256 ? le : d.readUInt32BE(0);
    if (fam === 2 || fam === 24 || fam === 28 || fam === 30 || fam === 10) return ip(d, 4);
    return OTHER;
  }
  return OTHER;
}

function ethernet(d: Buffer): Decoded {
  if (d.length < 14) return malformed('truncated Ethernet header');
  let at = 12;
  let type = d.readUInt16BE(at);
  // 802.1Q, 802.1ad and the old QinQ tag: 4 bytes each, possibly stacked.
  while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
    at += 4;
    if (d.length < at + 2) return malformed('truncated VLAN tag');
    type = d.readUInt16BE(at);
  }
  return byEtherType(type, d, at + 2);
}

function byEtherType(type: number, d: Buffer, at: number): Decoded {
  if (type === 0x0800 || type === 0x86dd) return ip(d, at);
  if (type === 0x8864) {
    // PPPoE session: 6-byte header, then the PPP protocol (0x0021 IPv4, 0x0057 IPv6).
    if (d.length < at + 8) return malformed('truncated PPPoE header');
    const ppp = d.readUInt16BE(at + 6);
    if (ppp === 0x0021 || ppp === 0x0057) return ip(d, at + 8);
  }
  return OTHER;
}

function ip(d: Buffer, at: number): Decoded {
  if (d.length <= at) return malformed('missing IP header');
  const v = (d[at] as number) >> 4;
  if (v === 4) return ipv4(d, at);
  if (v === 6) return ipv6(d, at);
  return OTHER;
}

function ipv4(d: Buffer, at: number): Decoded {
  if (d.length < at + 20) return malformed('truncated IPv4 header');
  const ihl = ((d[at] as number) & 0x0f) * 4;
  const total = d.readUInt16BE(at + 2);
  if (ihl < 20 || total < ihl) return malformed('bad IPv4 header length');
  const frag = d.readUInt16BE(at + 6);
  // MF set or a non-zero offset: a fragment. Reassembling IP is out of scope.
  if ((frag & 0x3fff) !== 0) return FRAGMENT;
  const end = Math.min(d.length, at + total);
  if (end < at + ihl) return malformed('truncated IPv4 options');
  const proto = d[at + 9] as number;
  const src = `${d[at + 12]}.${d[at + 13]}.${d[at + 14]}.${d[at + 15]}`;
  const dst = `${d[at + 16]}.${d[at + 17]}.${d[at + 18]}.${d[at + 19]}`;
  return transport(proto, d.subarray(at + ihl, end), src, dst);
}

function ipv6(d: Buffer, at: number): Decoded {
  if (d.length < at + 40) return malformed('truncated IPv6 header');
  const plen = d.readUInt16BE(at + 4);
  // Payload length 0 = jumbogram (hop-by-hop option): take what was captured.
  const end = plen === 0 ? d.length : Math.min(d.length, at + 40 + plen);
  let next = d[at + 6] as number;
  let p = at + 40;
  for (let hops = 0; hops < 16; hops++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      if (end < p + 8) return malformed('truncated IPv6 extension header');
      next = d[p] as number;
      p += ((d[p + 1] as number) + 1) * 8;
    } else if (next === 51) {
      if (end < p + 8) return malformed('truncated IPv6 AH header');
      next = d[p] as number;
      p += ((d[p + 1] as number) + 2) * 4;
    } else if (next === 44) {
      return FRAGMENT;
    } else {
      break;
    }
  }
  if (p > end) return malformed('IPv6 extension headers exceed the packet');
  return transport(next, d.subarray(p, end), ipv6Text(d, at + 8), ipv6Text(d, at + 24));
}

function transport(proto: number, seg: Buffer, src: string, dst: string): Decoded {
  if (proto === 17) return UDP;
  if (proto !== 6) return OTHER;
  if (seg.length < 20) return malformed('truncated TCP header');
  const off = ((seg[12] as number) >> 4) * 4;
  if (off < 20 || off > seg.length) return malformed('bad TCP data offset');
  return {
    kind: 'tcp',
    seg: {
      src,
      dst,
      srcPort: seg.readUInt16BE(0),
      dstPort: seg.readUInt16BE(2),
      seq: seg.readUInt32BE(4),
      ack: seg.readUInt32BE(8),
      flags: seg[13] as number,
      payload: seg.subarray(off),
    },
  };
}

/** RFC 5952 text form (longest zero run compressed). */
export function ipv6Text(d: Buffer, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(d.readUInt16BE(at + i * 2));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

export function endpointText(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
