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

/**
 * SNAC 04/07 rendezvous proposal from `from` naming where the offerer
 * listens (libpurple family_icbm.c aim_im_sendch2_sendfile_requestdirect:
 * TLV 0x0a request number, 0x02/0x03 IPs, 0x04 verified IP added by the
 * server, 0x05 port, 0x17 port check, 0x10 when proxied).
 */
export function fileOfferInAt(reqId: number, from: string, name: string, size: number, at: { ip: string; verified?: string; port: number; proxy?: boolean; requestNumber?: number; cookie?: Buffer; files?: number }): Buffer {
  const ip = (s: string): Buffer => Buffer.from(s.split('.').map(Number));
  const cookie = at.cookie ?? COOKIE;
  const files = at.files ?? 1;
  // Service data: subtype (1 one file, 2 several), file count, total size, name.
  const sd = Buffer.concat([u16(files > 1 ? 2 : 1), u16(files), u32(size), Buffer.from(name, 'utf8'), Buffer.from([0])]);
  const tlvs = [
    tlv(0x0a, u16(at.requestNumber ?? 1)),
    tlv(0x0f, Buffer.alloc(0)),
    tlv(0x02, ip(at.ip)),
    tlv(0x03, ip(at.ip)),
    ...(at.verified !== undefined ? [tlv(0x04, ip(at.verified))] : []),
    tlv(0x05, u16(at.port)),
    tlv(0x17, u16(~at.port & 0xffff)),
    ...(at.proxy === true ? [tlv(0x10, Buffer.alloc(0))] : []),
    tlv(0x2711, sd),
  ];
  const rv = tlv(5, Buffer.concat([u16(0), cookie, FT_CAP, ...tlvs]));
  return snac(4, 7, reqId, Buffer.concat([cookie, u16(2), sn(from), u16(0), u16(0), rv]));
}

/** The same proposal sent by the local client (04/06) to `to`. */
export function fileOfferOutAt(reqId: number, to: string, name: string, size: number, at: { ip: string; port: number; cookie?: Buffer }): Buffer {
  const inbound = fileOfferInAt(reqId, to, name, size, at);
  // 04/07 -> 04/06: drop the warning level and user-info count (4 bytes after the name).
  const head = 10 + 8 + 2 + 1 + to.length;
  const out = Buffer.concat([inbound.subarray(0, head), inbound.subarray(head + 4)]);
  out.writeUInt16BE(6, 2);
  return out;
}

/**
 * An OFT2 header (libpurple oscar/peer_oft.c, libfaim ft.c): 'OFT2', hdrlen,
 * type, cookie, encrypt, compress, totfiles, filesleft, totparts, partsleft,
 * totsize, size, ... nencode @188, name @192 padded to 64 bytes (or longer).
 */
export function oftHeader(type: number, o: { size: number; name: string; encoding?: number; hdrlen?: number; encrypt?: number; totfiles?: number; filesleft?: number }): Buffer {
  const enc = o.encoding ?? 0;
  const nameBytes = enc === 2 ? Buffer.from(o.name, 'utf16le').swap16() : Buffer.from(o.name, 'latin1');
  const len = o.hdrlen ?? Math.max(256, 192 + nameBytes.length + 2);
  const h = Buffer.alloc(Math.max(len, 8));
  h.write('OFT2', 0, 'latin1');
  h.writeUInt16BE(len & 0xffff, 4);
  h.writeUInt16BE(type, 6);
  COOKIE.copy(h, 8);
  h.writeUInt16BE(o.encrypt ?? 0, 16);
  h.writeUInt16BE(o.totfiles ?? 1, 20);
  h.writeUInt16BE(o.filesleft ?? o.totfiles ?? 1, 22);
  h.writeUInt16BE(1, 24);
  h.writeUInt16BE(1, 26);
  if (h.length >= 40) {
    h.writeUInt32BE(o.size, 28);
    h.writeUInt32BE(o.size, 32);
    h.writeUInt32BE(0xffff0000, 40); // checksum start value
    h.write('Cool FileXfer', 68, 'latin1');
  }
  if (h.length >= 192) {
    h.writeUInt16BE(enc, 188);
    nameBytes.copy(h, 192, 0, Math.min(nameBytes.length, h.length - 192));
  }
  return h;
}

/**
 * An AOL rendezvous proxy frame (libpurple oscar/peer_proxy.c
 * peer_proxy_send): u16 length of the rest, u16 version 0x044A, u16 type
 * (1 error, 2 create, 3 created, 4 join, 5 ready), u32 0, u16 flags, payload.
 */
export function proxyFrame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(10 + payload.length, 0);
  h.writeUInt16BE(0x044a, 2);
  h.writeUInt16BE(type, 4);
  return Buffer.concat([h, payload]);
}

/** The JOIN payload: screen name (u8 length), u16 proxy session number, cookie, TLV 0x0001 capability. */
export function proxyJoin(sn: string, session: number, cookie: Buffer = COOKIE): Buffer {
  const name = Buffer.from(sn, 'latin1');
  return proxyFrame(4, Buffer.concat([Buffer.from([name.length]), name, u16(session), cookie, tlv(1, FT_CAP)]));
}
