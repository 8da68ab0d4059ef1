// MSNP2P (application/x-msnmsgrp2p, version 1 headers; version 2: p2p-v2.ts) and MSNSLP,
// enough to see file transfer offers, refuse them and follow their data.
//
// Sources (public write-ups, no capture of MSNSLP exists in the test set;
// version 2 headers: see p2p-v2.ts):
// - libpurple msn prpl: msn/p2p.h and p2p.c (the 48-byte little-endian
//   binary header of MSNP2P version 1: session id, id, offset (u64),
//   total size (u64), length, flags, ack id, ack sub id, ack size (u64);
//   a 4-byte big-endian application id footer after the data in
//   switchboard MSGs), msn/slp.c and slpcall.c (the `INVITE MSNMSGR:<to>
//   MSNSLP/1.0` request with To/From/Via/CSeq/Call-ID/Content-Type/
//   Content-Length headers, a body of `EUF-GUID`, `SessionID`, `AppID`,
//   `Context` lines ended by CR LF and a NUL; the `MSNSLP/1.0 603 Decline`
//   answer echoing Via branch and Call-ID), msn/xfer.h (MsnFileContext:
//   u32 length, u32 version, u64 file size at offset 8, u32 type, then the
//   file name in UTF-16LE at offset 20, MAX_PATH = 260 characters).
// - msnpiki "MSNP2P" / "MSNSLP" pages: EUF-GUID
//   {5D3E02AB-6190-11D3-BBBB-00C04F795683} is the file transfer
//   application; a session id of 0 marks an SLP (signalling) message.

export const P2P_HEADER_BYTES = 48;
export const P2P_FOOTER_BYTES = 4;
export const FILE_TRANSFER_EUF_GUID = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}';

export interface P2pHeader {
  sessionId: number;
  id: number;
  offset: number;
  totalSize: number;
  length: number;
  flags: number;
  ackId: number;
}

const u64 = (b: Buffer, at: number): number => {
  const v = b.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
};

/** The version 1 binary header at the start of `body`, or null when it does not fit. */
export function parseP2pHeader(body: Buffer): P2pHeader | null {
  if (body.length < P2P_HEADER_BYTES) return null;
  const h: P2pHeader = {
    sessionId: body.readUInt32LE(0),
    id: body.readUInt32LE(4),
    offset: u64(body, 8),
    totalSize: u64(body, 16),
    length: body.readUInt32LE(24),
    flags: body.readUInt32LE(28),
    ackId: body.readUInt32LE(32),
  };
  if (h.offset < 0 || h.totalSize < 0 || h.length > body.length - P2P_HEADER_BYTES || h.offset + h.length > h.totalSize) return null;
  return h;
}

export function buildP2pHeader(h: P2pHeader): Buffer {
  const b = Buffer.alloc(P2P_HEADER_BYTES);
  b.writeUInt32LE(h.sessionId >>> 0, 0);
  b.writeUInt32LE(h.id >>> 0, 4);
  b.writeBigUInt64LE(BigInt(h.offset), 8);
  b.writeBigUInt64LE(BigInt(h.totalSize), 16);
  b.writeUInt32LE(h.length >>> 0, 24);
  b.writeUInt32LE(h.flags >>> 0, 28);
  b.writeUInt32LE(h.ackId >>> 0, 32);
  return b;
}

export interface SlpInvite {
  to: string;
  from: string;
  branch: string;
  callId: string;
  eufGuid: string;
  sessionId: string;
  context: string;
}

/** Strips `<msnmsgr:` ... `>` (and an MSNP16+ `;{endpoint}`) from an SLP To/From value. */
export function slpAddress(v: string): string {
  let s = v.trim();
  if (s.startsWith('<')) s = s.slice(1);
  if (s.endsWith('>')) s = s.slice(0, -1);
  if (s.toLowerCase().startsWith('msnmsgr:')) s = s.slice(8);
  const semi = s.indexOf(';');
  return semi < 0 ? s : s.slice(0, semi);
}

/** Parses an SLP INVITE request; null for anything else (200 OK, BYE, data). */
export function parseSlpInvite(text: string): SlpInvite | null {
  if (!text.startsWith('INVITE ')) return null;
  const inv: SlpInvite = { to: '', from: '', branch: '', callId: '', eufGuid: '', sessionId: '', context: '' };
  for (const raw of text.split('\r\n')) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const name = raw.slice(0, colon).trim().toLowerCase();
    const value = raw.slice(colon + 1).trim();
    switch (name) {
      case 'to':
        inv.to = slpAddress(value);
        break;
      case 'from':
        inv.from = slpAddress(value);
        break;
      case 'via': {
        const m = /branch=(\{[^}]*\})/i.exec(value);
        if (m?.[1] !== undefined) inv.branch = m[1];
        break;
      }
      case 'call-id':
        inv.callId = value;
        break;
      case 'euf-guid':
        inv.eufGuid = value.toUpperCase();
        break;
      case 'sessionid':
        inv.sessionId = value;
        break;
      case 'context':
        inv.context = value.replace(/\0+$/, '');
        break;
      default:
        break;
    }
  }
  return inv;
}

/** File name and size from a file transfer Context (base64 MsnFileContext). */
export function decodeFileContext(b64: string): { name?: string; size?: number } {
  const ctx = Buffer.from(b64, 'base64');
  const out: { name?: string; size?: number } = {};
  if (ctx.length >= 16) {
    const size = u64(ctx, 8);
    if (size >= 0) out.size = size;
  }
  if (ctx.length > 20) {
    const max = Math.min(ctx.length, 20 + 2 * 260);
    let end = 20;
    while (end + 1 < max && (ctx[end] !== 0 || ctx[end + 1] !== 0)) end += 2;
    const name = ctx.toString('utf16le', 20, end);
    if (name.length > 0) out.name = name;
  }
  return out;
}

/** The text of the SLP message in a P2P body, from offset 48 up to its data length. */
export function slpText(body: Buffer, h: P2pHeader): string {
  return body.toString('utf8', P2P_HEADER_BYTES, P2P_HEADER_BYTES + h.length);
}

/** `MSNSLP/1.0 603 Decline` for an INVITE, from its invitee to its inviter (libpurple slp.c). */
export function buildDecline(inv: SlpInvite): Buffer {
  const body = `SessionID: ${inv.sessionId}\r\n\r\n\0`;
  const text =
    'MSNSLP/1.0 603 Decline\r\n' +
    `To: <msnmsgr:${inv.from}>\r\n` +
    `From: <msnmsgr:${inv.to}>\r\n` +
    `Via: MSNSLP/1.0/TLP ;branch=${inv.branch}\r\n` +
    'CSeq: 1 \r\n' +
    `Call-ID: ${inv.callId}\r\n` +
    'Max-Forwards: 0\r\n' +
    'Content-Type: application/x-msnmsgr-sessionreqbody\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body;
  const data = Buffer.from(text, 'utf8');
  const header = buildP2pHeader({ sessionId: 0, id: 0x7fff0000 + (data.length & 0xffff), offset: 0, totalSize: data.length, length: data.length, flags: 0, ackId: 0x1d2e3f4a });
  return Buffer.concat([header, data, Buffer.alloc(P2P_FOOTER_BYTES)]);
}

/**
 * An SLP `BYE` that ends call `callId`, from `from` to `to`, as a P2P body
 * (libpurple slpcall.c msn_slpcall_close -> send_bye: how a client cancels a
 * transfer already started; the peer that gets it ends the call and its
 * transfer, slp.c got_bye / msn_slpcall_destroy).
 */
export function buildBye(to: string, from: string, callId: string, branch: string): Buffer {
  const data = byeSlp(to, from, callId, branch);
  const header = buildP2pHeader({ sessionId: 0, id: 0x7ffe0000 + (data.length & 0xffff), offset: 0, totalSize: data.length, length: data.length, flags: 0, ackId: 0x2e3f4a5b });
  return Buffer.concat([header, data, Buffer.alloc(P2P_FOOTER_BYTES)]);
}

/** The SLP text of a BYE (both P2P versions carry it). */
export function byeSlp(to: string, from: string, callId: string, branch: string): Buffer {
  const body = '\r\n\0';
  const text =
    `BYE MSNMSGR:${to} MSNSLP/1.0\r\n` +
    `To: <msnmsgr:${to}>\r\n` +
    `From: <msnmsgr:${from}>\r\n` +
    `Via: MSNSLP/1.0/TLP ;branch=${branch}\r\n` +
    'CSeq: 0 \r\n' +
    `Call-ID: ${callId}\r\n` +
    'Max-Forwards: 0\r\n' +
    'Content-Type: application/x-msnmsgr-sessionclosebody\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body;
  return Buffer.from(text, 'utf8');
}

/** A P2P MSG payload (MIME headers + binary body) addressed to `dest`. */
export function p2pMsgPayload(dest: string, body: Buffer): Buffer {
  const head = Buffer.from(`MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: ${dest}\r\n\r\n`, 'utf8');
  return Buffer.concat([head, body]);
}

/**
 * The Call-ID of an SLP message that ends a call: a `BYE` request, or a
 * `603 Decline` / error answer (4xx-6xx) to the INVITE. Null for anything else.
 */
export function slpEndCallId(text: string): string | null {
  const nl = text.indexOf('\r\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  if (!first.startsWith('BYE ') && !/^MSNSLP\/1\.0 [456]\d\d /.test(first)) return null;
  const m = /\r\nCall-ID:[ \t]*(\{[^}\r\n]{1,64}\})/i.exec(text);
  return m?.[1] ?? null;
}
