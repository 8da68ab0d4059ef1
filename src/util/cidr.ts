// CIDR parsing and matching for IPv4 and IPv6. Every address is normalised
// to 16 bytes with IPv4 stored as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a
// client reported as "::ffff:127.0.0.1" (dual-stack sockets) matches
// 127.0.0.0/8 without special cases.
import { ipv4Bytes } from '../../socks/ip';
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  /** The text as configured, for logs and error messages. */
  readonly source: string;
  readonly bytes: Uint8Array;
  /** Prefix length in the 128-bit (mapped) space. */
  readonly prefix: number;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Parses an IP literal (v4, v6, v4-mapped v6, optional zone id) to 16 bytes, or null. */
export function parseIp(text: string): Uint8Array | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const out = new Uint8Array(16);
  if (isIPv4(s)) {
    out.set(MAPPED_PREFIX, 0);
    return ipv4Bytes(s, out, 12) ? out : null;
  }
  if (!isIPv6(s)) return null;
  // Rewrite an embedded dotted quad ("::ffff:1.2.3.4") as two hex groups.
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    const q = new Uint8Array(4);
    if (!ipv4Bytes(s.slice(lastColon + 1), q, 0)) return null;
    const hi = (((q[0] as number) << 8) | (q[1] as number)).toString(16);
    const lo = (((q[2] as number) << 8) | (q[3] as number)).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const groupsWanted = 8;
  const dbl = s.indexOf('::');
  let head: string[];
  let tail: string[];
  if (dbl >= 0) {
    head = s.slice(0, dbl) === '' ? [] : s.slice(0, dbl).split(':');
    tail = s.slice(dbl + 2) === '' ? [] : s.slice(dbl + 2).split(':');
  } else {
    head = s.split(':');
    tail = [];
  }
  const fill = groupsWanted - head.length - tail.length;
  if (fill < 0) return null;
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail];
  for (let i = 0; i < 8; i++) {
    const g = groups[i] as string;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  return out;
}

/** Parses "10.0.0.0/8", "::1/128", or a bare address (host route). Throws with a clear message. */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new Error(`invalid CIDR ${JSON.stringify(text)}: empty`);
  }
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const bytes = parseIp(addrText);
  if (!bytes) throw new Error(`invalid CIDR ${JSON.stringify(text)}: not an IP address`);
  const v4 = isIPv4(addrText.trim());
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      throw new Error(`invalid CIDR ${JSON.stringify(text)}: prefix must be 0-${max}`);
    }
    prefix = Number(p);
  }
  return { source: text, bytes, prefix: v4 ? prefix + 96 : prefix };
}

export function cidrContains(cidr: Cidr, addr: Uint8Array): boolean {
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== addr[i]) return false;
  const rem = cidr.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((cidr.bytes[full] as number) & mask) === ((addr[full] as number) & mask);
}

/** A compiled list of CIDRs; `matches` is false for anything that is not an IP literal. */
export class CidrList {
  readonly cidrs: readonly Cidr[];
  constructor(sources: readonly string[]) {
    this.cidrs = sources.map(parseCidr);
  }
  matches(address: string | undefined): boolean {
    if (!address) return false;
    const bytes = parseIp(address);
    if (!bytes) return false;
    for (const c of this.cidrs) if (cidrContains(c, bytes)) return true;
    return false;
  }
}

/** "::ffff:1.2.3.4" -> "1.2.3.4"; other addresses unchanged. For logs and events. */
export function normalizeAddress(address: string): string {
  if (address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && isIPv4(address.slice(7))) {
    return address.slice(7);
  }
  return address;
}
