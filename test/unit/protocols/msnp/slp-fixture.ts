// A synthetic MSNSLP file transfer INVITE, built from the public write-ups
// because no capture of one exists (see src/protocols/msnp/p2p.ts for the
// sources): libpurple msn/slpcall.c + slp.c (INVITE headers and body),
// msn/xfer.c / xfer.h (the 574-byte MsnFileContext: length, version 2,
// u64 file size, type, 260 UTF-16LE characters of name, 30 bytes 0xFF),
// msn/p2p.h (48-byte version 1 header) and slplink.c (1202 data bytes per
// switchboard chunk, 4-byte big-endian footer, application id 2 for files).
import { buildP2pHeader, FILE_TRANSFER_EUF_GUID, parseP2pHeader } from '../../../../src/protocols/msnp';

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
