// OSCAR's TLV: uint16 tag, uint16 length, value (big-endian throughout).
// Reference: wiki.nina.chat/wiki/Protocols/OSCAR/TLV ("Parsers should
// always ignore unknown tags"). Every read here is bounds-checked and
// returns undefined instead of throwing: the input is untrusted.

export interface Tlv {
  tag: number;
  /** Offset of the TLV's first byte (the tag) inside the buffer it was read from. */
  start: number;
  /** Offset of the value. */
  valueStart: number;
  value: Buffer;
}

/** Reads TLVs from buf[from, to) until `to` or `max` TLVs; stops silently at a truncated one. */
export function readTlvs(buf: Buffer, from: number, to: number, max = Infinity): { tlvs: Tlv[]; end: number } {
  const tlvs: Tlv[] = [];
  let p = from;
  while (tlvs.length < max && p + 4 <= to) {
    const tag = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (p + 4 + len > to) break;
    tlvs.push({ tag, start: p, valueStart: p + 4, value: buf.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return { tlvs, end: p };
}

export function findTlv(tlvs: readonly Tlv[], tag: number): Tlv | undefined {
  for (const t of tlvs) if (t.tag === tag) return t;
  return undefined;
}

export function tlv(tag: number, value: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + value.length);
  b.writeUInt16BE(tag, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

/** OSCAR strings in TLVs are not NUL-terminated; screen names and UINs are ASCII. */
export const ascii = (b: Buffer): string => b.toString('latin1');
