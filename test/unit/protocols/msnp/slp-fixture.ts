// A synthetic MSNSLP file transfer INVITE, built from the public write-ups
// because no capture of one exists (see src/protocols/msnp/p2p.ts for the
// sources): libpurple msn/slpcall.c + slp.c (INVITE headers and body),
// msn/xfer.c / xfer.h (the 574-byte MsnFileContext: length, version 2,
// u64 file size, type, 260 UTF-16LE characters of name, 30 bytes 0xFF),
// msn/p2p.h (48-byte version 1 header) and slplink.c (1202 data bytes per
// switchboard chunk, 4-byte big-endian footer, application id 2 for files).
import { buildP2pHeader, FILE_TRANSFER_EUF_GUID, parseP2pHeader } from '../../../../src/protocols/msnp';
import { buildP2pV2, parseP2pV2, TF_FILE, TF_FIRST } from '../../../../src/protocols/msnp/p2p-v2';

export const CALL_ID = '{9D79AE57-1BD5-444B-B14E-3FC9BB2B5D58}';
export const BRANCH = '{A0D624A6-6C0C-4283-A9E0-BC97B4B46D32}';
const SB_CHUNK = 1202;
// Tests pass a smaller chunk to force the split that longer addresses or a preview cause with the real 1202.

export function fileContext(name: string, size: number): Buffer {
  const ctx = Buffer.alloc(574);
  ctx.writeUInt32LE(574, 0);
  ctx.writeUInt32LE(2, 4);
  ctx.writeBigUInt64LE(BigInt(size), 8);
  ctx.writeUInt32LE(1, 16); // no preview
  ctx.write(name.slice(0, 259), 20, 'utf16le');
  ctx.fill(0xff, 20 + 520, 20 + 520 + 30);
  return ctx;
}

export function inviteText(from: string, to: string, name: string, size: number, eufGuid = FILE_TRANSFER_EUF_GUID, call: { sessionId?: number; callId?: string } = {}): string {
  const body = `EUF-GUID: ${eufGuid}\r\nSessionID: ${call.sessionId ?? 4711}\r\nAppID: 2\r\nContext: ${fileContext(name, size).toString('base64')}\r\n\r\n\0`;
  return (
    `INVITE MSNMSGR:${to} MSNSLP/1.0\r\n` +
    `To: <msnmsgr:${to}>\r\n` +
    `From: <msnmsgr:${from}>\r\n` +
    `Via: MSNSLP/1.0/TLP ;branch=${BRANCH}\r\n` +
    'CSeq: 0 \r\n' +
    `Call-ID: ${call.callId ?? CALL_ID}\r\n` +
    'Max-Forwards: 0\r\n' +
    'Content-Type: application/x-msnmsgr-sessionreqbody\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body
  );
}

/** The invitee's `200 OK` accepting the INVITE (libpurple slpcall.c got_invite -> send_ok). */
export function okText(from: string, to: string, sessionId = 4711, callId = CALL_ID): string {
  const body = `SessionID: ${sessionId}\r\n\r\n\0`;
  return (
    `MSNSLP/1.0 200 OK\r\nTo: <msnmsgr:${to}>\r\nFrom: <msnmsgr:${from}>\r\nVia: MSNSLP/1.0/TLP ;branch=${BRANCH}\r\nCSeq: 1 \r\n` +
    `Call-ID: ${callId}\r\nMax-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** The `BYE` that closes the call (libpurple slpcall.c msn_slpcall_close -> BYE with Content-Type application/x-msnmsgr-sessionclosebody). */
export function byeText(from: string, to: string, callId = CALL_ID): string {
  const body = '\r\n\0';
  return (
    `BYE MSNMSGR:${to} MSNSLP/1.0\r\nTo: <msnmsgr:${to}>\r\nFrom: <msnmsgr:${from}>\r\nVia: MSNSLP/1.0/TLP ;branch=${BRANCH}\r\nCSeq: 0 \r\n` +
    `Call-ID: ${callId}\r\nMax-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionclosebody\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

function msgOf(payloadBody: Buffer, dest: string, n: number, opts: { client?: { trid: number }; server?: { from: string } }): Buffer {
  const payload = Buffer.concat([Buffer.from(`MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: ${dest}\r\n\r\n`), payloadBody]);
  const line = opts.client !== undefined ? `MSG ${opts.client.trid + n} D ${payload.length}\r\n` : `MSG ${opts.server?.from ?? 'x'} ${opts.server?.from ?? 'x'} ${payload.length}\r\n`;
  return Buffer.concat([Buffer.from(line), payload]);
}

/** P2P flags of file data (libpurple p2p.h P2P_FILE_DATA = WLM2009 compatibility | 0x30). */
export const FILE_DATA_FLAGS = 0x01000030;

/**
 * The file's bytes as MSNP2P version 1 data MSGs of session `sessionId`
 * (slplink.c msn_slplink_send_msgpart: one id for the whole file, offset
 * and length per chunk, TotalSize = file size, footer = application id 2
 * big-endian). `offsets` overrides the chunk offsets (to make gaps).
 */
export function dataMsgs(file: Buffer, opts: { sessionId?: number; id: number; dest: string; chunk?: number; client?: { trid: number }; server?: { from: string }; total?: number }): Buffer[] {
  const chunk = opts.chunk ?? SB_CHUNK;
  const out: Buffer[] = [];
  for (let off = 0, n = 0; off < file.length; off += chunk, n++) {
    const part = file.subarray(off, off + chunk);
    const header = buildP2pHeader({ sessionId: opts.sessionId ?? 4711, id: opts.id, offset: off, totalSize: opts.total ?? file.length, length: part.length, flags: FILE_DATA_FLAGS, ackId: 0x5000 + n });
    const footer = Buffer.alloc(4);
    footer.writeUInt32BE(2, 0);
    out.push(msgOf(Buffer.concat([header, part, footer]), opts.dest, n, opts));
  }
  return out;
}

/** The receiver's ack of a whole data message (flags 0x02, length 0, ack id = the data's id). */
export function ackMsg(sessionId: number, total: number, ackedId: number, dest: string, opts: { client?: { trid: number }; server?: { from: string } }): Buffer {
  const header = buildP2pHeader({ sessionId, id: 0x9000, offset: 0, totalSize: total, length: 0, flags: 0x02, ackId: ackedId });
  return msgOf(Buffer.concat([header, Buffer.alloc(4)]), dest, 0, opts);
}

/** The P2P MSGs carrying `text` as one SLP message (id `id`), as the client (trid..) or the switchboard sends them. */
export function p2pMsgs(text: string, opts: { id: number; dest: string; chunk?: number; client?: { trid: number }; server?: { from: string } }): Buffer[] {
  const data = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let off = 0, n = 0; off < data.length; off += opts.chunk ?? SB_CHUNK, n++) {
    const part = data.subarray(off, off + (opts.chunk ?? SB_CHUNK));
    const header = buildP2pHeader({ sessionId: 0, id: opts.id, offset: off, totalSize: data.length, length: part.length, flags: 0, ackId: 0x1234 + n });
    const payload = Buffer.concat([
      Buffer.from(`MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: ${opts.dest}\r\n\r\n`),
      header,
      part,
      Buffer.alloc(4),
    ]);
    const line = opts.client !== undefined ? `MSG ${opts.client.trid + n} D ${payload.length}\r\n` : `MSG ${opts.server?.from ?? 'x'} ${opts.server?.from ?? 'x'} ${payload.length}\r\n`;
    out.push(Buffer.concat([Buffer.from(line), payload]));
  }
  return out;
}

/** File bytes inside the P2P data MSGs of a byte stream (what the receiver could save). */
export function fileBytesIn(stream: Buffer, sessionId = 4711): number {
  let n = 0;
  let at = 0;
  while (at < stream.length) {
    const lf = stream.indexOf('\r\n', at);
    if (lf < 0) break;
    const line = stream.toString('latin1', at, lf).split(' ');
    const len = line[0] === 'MSG' ? Number(line[3]) : 0;
    const payload = stream.subarray(lf + 2, lf + 2 + len);
    const sep = payload.indexOf('\r\n\r\n');
    if (sep >= 0) {
      const h = parseP2pHeader(payload.subarray(sep + 4));
      if (h !== null && h.sessionId === sessionId && (h.flags & 0x20) !== 0) n += h.length;
    }
    at = lf + 2 + len;
  }
  return n;
}

// ---- MSNP2P version 2 (MSNP16+) ----
// Built from libpurple 2.10 msn/p2p.c msn_p2p_header_to_wire (big-endian
// header, header TLVs, a data header with TF / package number / session id
// and data TLVs, payload, 4-byte footer) via src buildP2pV2. ASSUMED where
// libpurple is silent (see src/protocols/msnp/p2p.ts): the remaining TLV
// (type 1) is a u64 big-endian count of the bytes after each payload and is
// absent on the last packet; TLVs pad to 4 bytes; one package number per
// SLP message or file; base id advances by each payload's length.

/** A peer info header TLV (libpurple P2PPeerInfoVal: pver 0x0200, ver 0x0e00, caps 0x010f), sent with SYN on a first packet. */
export function peerInfoTlv(): [number, Buffer] {
  const v = Buffer.alloc(12);
  v.writeUInt16BE(0x0200, 0);
  v.writeUInt16BE(0x0e00, 4);
  v.writeUInt32BE(0x0000010f, 8);
  return [0x01, v];
}

export interface V2Opts {
  dest: string;
  /** 0 for SLP messages. */
  sessionId?: number;
  packageNumber?: number;
  baseId?: number;
  chunk?: number;
  client?: { trid: number };
  server?: { from: string };
  /** Overrides the size the remaining TLVs count down from (to make a size mismatch). */
  total?: number;
  /** The first packet drops TF_FIRST (as if its head were lost). */
  noFirst?: boolean;
}

/** P2P v2 bodies carrying `data` (one SLP message or a whole file). */
export function v2Bodies(data: Buffer, tf: number, appId: number, opts: V2Opts): Buffer[] {
  const chunk = opts.chunk ?? SB_CHUNK;
  const total = opts.total ?? data.length;
  const out: Buffer[] = [];
  let baseId = opts.baseId ?? 0x2a000000;
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, off + chunk);
    const first = off === 0;
    const left = total - (off + part.length);
    out.push(
      buildP2pV2({
        opcode: first ? 0x03 : 0x02, // SYN|RAK on the first, RAK after (libpurple MsnP2Pv2OpCode)
        baseId,
        headerTlvs: first ? [peerInfoTlv()] : [],
        tf: tf | (first && opts.noFirst !== true ? TF_FIRST : 0),
        packageNumber: opts.packageNumber ?? 1,
        sessionId: opts.sessionId ?? 0,
        ...(left > 0 ? { remaining: left } : {}),
        payload: part,
        appId,
      }),
    );
    baseId += part.length;
  }
  return out;
}

/** `text` as one v2 SLP message (session 0), as MSGs. */
export function p2pV2Msgs(text: string, opts: V2Opts): Buffer[] {
  return v2Bodies(Buffer.from(text, 'utf8'), 0, 0, { ...opts, sessionId: 0 }).map((b, n) => msgOf(b, opts.dest, n, opts));
}

/** The file's bytes as v2 data MSGs of session `sessionId` (TF_FILE, application id 2). */
export function dataMsgsV2(file: Buffer, opts: V2Opts & { sessionId: number }): Buffer[] {
  return v2Bodies(file, TF_FILE, 2, opts).map((b, n) => msgOf(b, opts.dest, n, opts));
}

/** A v2 ACK: header only (message_len 0), ACK TLV = acked base id + length (libpurple msn_p2p_info_create_ack). */
export function ackMsgV2(ackOf: number, dest: string, opts: { client?: { trid: number }; server?: { from: string } }): Buffer {
  const b = Buffer.alloc(8 + 8 + 4);
  b[0] = 16; // 8 + TLV(2 + 4) + 2 padding
  b.writeUInt32BE(0x3b000000, 4);
  b[8] = 0x02;
  b[9] = 4;
  b.writeUInt32BE(ackOf >>> 0, 10);
  return msgOf(b, dest, 0, opts);
}

/** File bytes of `sessionId` inside the v2 data MSGs of a byte stream. */
export function fileBytesInV2(stream: Buffer, sessionId: number): number {
  let n = 0;
  let at = 0;
  while (at < stream.length) {
    const lf = stream.indexOf('\r\n', at);
    if (lf < 0) break;
    const line = stream.toString('latin1', at, lf).split(' ');
    const len = line[0] === 'MSG' ? Number(line[3]) : 0;
    const payload = stream.subarray(lf + 2, lf + 2 + len);
    const sep = payload.indexOf('\r\n\r\n');
    if (sep >= 0) {
      const h = parseP2pV2(payload.subarray(sep + 4));
      if (h !== null && h.sessionId === sessionId) n += h.payloadLength;
    }
    at = lf + 2 + len;
  }
  return n;
}
