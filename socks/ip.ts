// IP address text <-> bytes for the SOCKS5 wire format. Our own code because
// socksv5 0.0.6 renders IPv6 without zero padding (2001:db8::100 became
// "201:db8:00:..."), and destination rules must see the canonical form.
import { isIPv4, isIPv6 } from 'node:net';

/**
 * RFC 5952 text of the 16 bytes at buf[off..off+16): lowercase hex, no
 * leading zeros, the longest run (>= 2) of zero groups collapsed to "::".
 * Same output as WHATWG URL serialization, so rules can compare strings.
 */
export function formatIpv6(buf: Buffer, off: number): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = buf.readUInt16BE(off + 2 * i);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.map((g) => g.toString(16)).join(':');
  const left = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const right = groups.slice(bestStart + bestLen).map((g) => g.toString(16)).join(':');
  return `${left}::${right}`;
}

export function formatIpv4(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** Dotted-quad text into 4 bytes at `off`; false unless exactly a.b.c.d with each 0-255. */
export function ipv4Bytes(text: string, out: Uint8Array, off: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^\d{1,3}$/.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[off + i] = n;
  }
  return true;
}

function groupsOf(part: string): string[] {
  return part === '' ? [] : part.split(':');
}

/** 16 bytes of an IPv6 literal (accepts "::", embedded IPv4, zone ids dropped), or null. */
export function parseIpv6(input: string): Buffer | null {
  const text = input.split('%')[0] as string;
  if (!isIPv6(text)) return null;
  const out = Buffer.alloc(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  const all = halves.length === 2 ? [...head, '', ...tail] : head;
  // An embedded IPv4 tail takes two groups.
  const last = all[all.length - 1];
  let v4: Buffer | null = null;
  if (last !== undefined && last.includes('.')) {
    v4 = Buffer.alloc(4);
    if (!ipv4Bytes(last, v4, 0)) return null;
    all.pop();
  }
  const width = v4 ? 6 : 8;
  const explicit = all.filter((g) => g !== '').length;
  let pos = 0;
  for (const g of all) {
    if (g === '') {
      pos += width - explicit;
      continue;
    }
    out.writeUInt16BE(parseInt(g, 16), pos * 2);
    pos++;
  }
  if (v4) v4.copy(out, 12);
  return out;
}

/** True for ::ffff:a.b.c.d (as bytes). */
export function isV4Mapped(b: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * SOCKS5 ATYP + address bytes for an address Node reports (localAddress):
 * IPv4 -> 01 + 4 bytes; IPv4-mapped IPv6 -> IPv4; IPv6 -> 04 + 16 bytes;
 * anything else (socket already gone) -> 0.0.0.0.
 */
export function addressBytes(address: string | undefined): { atyp: 1 | 4; bytes: Buffer } {
  if (address !== undefined) {
    if (isIPv4(address)) {
      const b = Buffer.alloc(4);
      if (ipv4Bytes(address, b, 0)) return { atyp: 1, bytes: b };
    }
    const v6 = parseIpv6(address);
    if (v6) return isV4Mapped(v6) ? { atyp: 1, bytes: v6.subarray(12) } : { atyp: 4, bytes: v6 };
  }
  return { atyp: 1, bytes: Buffer.alloc(4) };
}
