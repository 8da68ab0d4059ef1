// Builders for synthetic OSCAR sessions, written from the layouts in
// wiki.nina.chat (Protocols/OSCAR/FLAP, SNAC, ICBM) and libpurple's
// oscar/family_icbm.c, independently of the dissector's own builders.

export function flap(channel: number, seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = 0x2a;
  h[1] = channel;
  h.writeUInt16BE(seq, 2);
  h.writeUInt16BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function snac(family: number, subtype: number, reqId: number, data: Buffer, flags = 0): Buffer {
  const h = Buffer.alloc(10);
  h.writeUInt16BE(family, 0);
  h.writeUInt16BE(subtype, 2);
  h.writeUInt16BE(flags, 4);
  h.writeUInt32BE(reqId, 6);
  return Buffer.concat([h, data]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(tag, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};
const sn = (name: string): Buffer => Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1')]);

export const COOKIE = Buffer.from('0102030405060708', 'hex');
export const HELLO = Buffer.from('00000001', 'hex');

export function textBlock(text: string, charset = 0): Buffer {
  const enc = charset === 2 ? Buffer.from(text, 'utf16le').swap16() : Buffer.from(text, 'latin1');
  const caps = Buffer.from([0x05, 0x01, 0x00, 0x01, 0x01]);
  const body = Buffer.concat([u16(charset), u16(0), enc]);
  return Buffer.concat([caps, Buffer.from([0x01, 0x01]), u16(body.length), body]);
}

/** SNAC 04/06 channel 1 with a text message. */
export function imOut(reqId: number, to: string, text: string, charset = 0): Buffer {
  return snac(4, 6, reqId, Buffer.concat([COOKIE, u16(1), sn(to), tlv(2, textBlock(text, charset)), tlv(3, Buffer.alloc(0))]));
}

/** SNAC 04/07 channel 1 with a text message from `from`. */
export function imIn(reqId: number, from: string, text: string, charset = 0): Buffer {
  const userInfo = Buffer.concat([u16(0), u16(1), tlv(1, u16(0x0050))]);
  return snac(4, 7, reqId, Buffer.concat([COOKIE, u16(1), sn(from), userInfo, tlv(2, textBlock(text, charset))]));
}

export const FT_CAP = Buffer.from('094613434c7f11d18222444553540000', 'hex');

function rendezvous(type: number, name: string, size: number): Buffer {
  const sd = Buffer.concat([u16(1), u16(1), u32(size), Buffer.from(name, 'utf8'), Buffer.from([0])]);
  return tlv(5, Buffer.concat([u16(type), COOKIE, FT_CAP, tlv(0x0a, u16(1)), tlv(0x0f, Buffer.alloc(0)), tlv(0x2711, sd)]));
}

export function fileOfferOut(reqId: number, to: string, name: string, size: number): Buffer {
  return snac(4, 6, reqId, Buffer.concat([COOKIE, u16(2), sn(to), rendezvous(0, name, size)]));
}

export function fileOfferIn(reqId: number, from: string, name: string, size: number): Buffer {
  return snac(4, 7, reqId, Buffer.concat([COOKIE, u16(2), sn(from), u16(0), u16(0), rendezvous(0, name, size)]));
}

export function selfInfo(reqId: number, name: string): Buffer {
  return snac(1, 0x0f, reqId, Buffer.concat([sn(name), u16(0), u16(1), tlv(1, u16(0x0050))]));
}

export function loginCh1(name: string): Buffer {
  return Buffer.concat([HELLO, tlv(1, Buffer.from(name)), tlv(2, Buffer.from('roasted'))]);
}

/** Walks a byte stream as FLAP frames (for assertions). */
export function frames(b: Buffer): Array<{ channel: number; seq: number; payload: Buffer }> {
  const out: Array<{ channel: number; seq: number; payload: Buffer }> = [];
  let p = 0;
  while (p + 6 <= b.length) {
    if (b[p] !== 0x2a) throw new Error(`not a FLAP at ${p}`);
    const len = b.readUInt16BE(p + 4);
    out.push({ channel: b[p + 1] as number, seq: b.readUInt16BE(p + 2), payload: b.subarray(p + 6, p + 6 + len) });
    p += 6 + len;
  }
  if (p !== b.length) throw new Error('trailing bytes');
  return out;
}

export const snacId = (payload: Buffer): string =>
  `${payload.readUInt16BE(0).toString(16).padStart(2, '0')}/${payload.readUInt16BE(2).toString(16).padStart(2, '0')}`;
