// A synthetic MSNSLP file transfer INVITE, built from the public write-ups
// because no capture of one exists (see src/protocols/msnp/p2p.ts for the
// sources): libpurple msn/slpcall.c + slp.c (INVITE headers and body),
// msn/xfer.c / xfer.h (the 574-byte MsnFileContext: length, version 2,
// u64 file size, type, 260 UTF-16LE characters of name, 30 bytes 0xFF),
// msn/p2p.h (48-byte version 1 header) and slplink.c (1202 data bytes per
// switchboard chunk, 4-byte big-endian footer, application id 2 for files).
import { buildP2pHeader, FILE_TRANSFER_EUF_GUID } from '../../../../src/protocols/msnp';

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

export function inviteText(from: string, to: string, name: string, size: number, eufGuid = FILE_TRANSFER_EUF_GUID): string {
  const body = `EUF-GUID: ${eufGuid}\r\nSessionID: 4711\r\nAppID: 2\r\nContext: ${fileContext(name, size).toString('base64')}\r\n\r\n\0`;
  return (
    `INVITE MSNMSGR:${to} MSNSLP/1.0\r\n` +
    `To: <msnmsgr:${to}>\r\n` +
    `From: <msnmsgr:${from}>\r\n` +
    `Via: MSNSLP/1.0/TLP ;branch=${BRANCH}\r\n` +
    'CSeq: 0 \r\n' +
    `Call-ID: ${CALL_ID}\r\n` +
    'Max-Forwards: 0\r\n' +
    'Content-Type: application/x-msnmsgr-sessionreqbody\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body
  );
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
