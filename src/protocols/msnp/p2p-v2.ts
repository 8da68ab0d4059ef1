// MSNP2P version 2 headers (MSNP16+): parse and build, never throwing.
//
// Layout from libpurple 2.10 (pidgin 2.10.x, as in the tieto/pidgin mirror)
// libpurple/protocols/msn/p2p.h (MsnP2Pv2Header, TF, P2PHeaderTLVType,
// P2PDataTLVType, MsnP2Pv2OpCode) and p2p.c msn_p2p_header_from_wire /
// msn_p2p_header_to_wire, all big-endian:
//   header:      u8 header_len (8 + header TLVs), u8 opcode (SYN 1, RAK 2),
//                u16 message_len, u32 base_id, header TLVs (1 peer info,
//                2 ACK, 3 NAK) up to header_len;
//   data packet: present when message_len > 0, and message_len counts it:
//                u8 data_header_len (8 + data TLVs), u8 TF (TF_FIRST 0x01,
//                TF_MSNOBJ 0x04, TF_FILE 0x06), u16 package number,
//                u32 session id, data TLVs up to data_header_len, then the
//                payload to header_len + message_len;
//   footer:      u32 application id (msn_p2p_footer_from_wire), which
//                from_wire requires to fit (header_len + message_len + 4).
// TLVs are u8 type, u8 length, value (msn/tlv.c msn_tlvlist_read; trailing
// zero bytes pad to a multiple of 4). msn_p2p_msg_is_data: a packet with
// message_len > 0; msn_p2p_info_is_first: TF_FIRST; msn_p2p_info_is_final:
// no P2P_DATA_TLV_REMAINING (0x01) TLV.
// ASSUMPTIONS (libpurple never writes the remaining TLV, it only tests for
// it): its value is a u64 big-endian count of the bytes of the message that
// follow this packet's payload (MSNPSharp DataTransfer/P2PHeader.cs
// P2Pv2Header.DataRemaining: type 1, length 8, read big-endian); padding
// stops at a zero type byte (MSNPSharp P2Pv2Header.ParseHeader; libpurple
// tlv.c only skips zero padding in the last 1-3 bytes). A file's first data packet carries TF_FIRST, so
// its size is its payload plus its remaining count.
import { byeSlp, P2P_FOOTER_BYTES } from './p2p';


export const P2P_V2_MIN_HEADER = 8;
export const TF_FIRST = 0x01;
export const TF_MSNOBJ = 0x04;
export const TF_FILE = 0x06;
const TLV_ACK = 0x02;
const TLV_REMAINING = 0x01;

export interface P2pV2Header {
  headerLen: number;
  opcode: number;
  /** Data header plus payload bytes (0: a control packet, e.g. a bare ACK). */
  messageLen: number;
  baseId: number;
  /** Carries a header ACK TLV. */
  ack: boolean;
  /** Data packet fields: meaningful when messageLen > 0. */
  tf: number;
  packageNumber: number;
  sessionId: number;
  /** Bytes of the message after this payload (0 when the remaining TLV is absent: the last packet). */
  remaining: number;
  payloadStart: number;
  payloadLength: number;
}

/**
 * Finds TLV `want` in b[start, end): the offset of its value, -1 when absent
 * (a zero type byte is padding and ends the list), -2 when a TLV overruns its
 * area. Each step consumes at least 2 bytes, so this is bounded by the area.
 */
function findTlv(b: Buffer, start: number, end: number, want: number): number {
  let at = start;
  let found = -1;
  while (at < end) {
    const type = b[at] as number;
    if (type === 0) break;
    if (at + 2 > end) return -2;
    const len = b[at + 1] as number;
    if (at + 2 + len > end) return -2;
    if (type === want && found < 0) found = at + 2;
    at += 2 + len;
  }
  return found;
}

/** A version 2 header at the start of `body`, or null when it is not one that fits (never throws). */
export function parseP2pV2(body: Buffer): P2pV2Header | null {
  if (body.length < P2P_V2_MIN_HEADER + P2P_FOOTER_BYTES) return null;
  const headerLen = body[0] as number;
  const messageLen = body.readUInt16BE(2);
  if (headerLen < P2P_V2_MIN_HEADER || headerLen + messageLen + P2P_FOOTER_BYTES > body.length) return null;
  const h: P2pV2Header = {
    headerLen,
    opcode: body[1] as number,
    messageLen,
    baseId: body.readUInt32BE(4),
    ack: false,
    tf: 0,
    packageNumber: 0,
    sessionId: 0,
    remaining: 0,
    payloadStart: headerLen,
    payloadLength: 0,
  };
  const ack = findTlv(body, P2P_V2_MIN_HEADER, headerLen, TLV_ACK);
  if (ack === -2) return null;
  h.ack = ack >= 0;
  if (messageLen === 0) return h;
  const d = headerLen;
  const dataHeaderLen = body[d] as number;
  if (dataHeaderLen < P2P_V2_MIN_HEADER || dataHeaderLen > messageLen) return null;
  h.tf = body[d + 1] as number;
  h.packageNumber = body.readUInt16BE(d + 2);
  h.sessionId = body.readUInt32BE(d + 4);
  const rem = findTlv(body, d + P2P_V2_MIN_HEADER, d + dataHeaderLen, TLV_REMAINING);
  if (rem === -2) return null;
  if (rem >= 0) {
    // Only the u64 form is understood; a remaining count that cannot be read cannot place the data.
    if (body[rem - 1] !== 8) return null;
    const hi = body.readUInt32BE(rem);
    if (hi > 0x1fffff) return null; // above 2^53
    h.remaining = hi * 0x100000000 + body.readUInt32BE(rem + 4);
  }
  h.payloadStart = d + dataHeaderLen;
  h.payloadLength = messageLen - dataHeaderLen;
  return h;
}

export interface P2pV2Packet {
  opcode?: number;
  baseId: number;
  /** Header TLVs as [type, value]. */
  headerTlvs?: Array<[number, Buffer]>;
  tf: number;
  packageNumber: number;
  sessionId: number;
  /** The remaining TLV's value; omitted (absent TLV) when undefined. */
  remaining?: number;
  payload: Buffer;
  /** Application id footer (2: file transfer, libpurple P2P_APPID_FILE). */
  appId?: number;
}

const tlvBytes = (tlvs: Array<[number, Buffer]>): Buffer => {
  const parts: Buffer[] = [];
  for (const [t, v] of tlvs) parts.push(Buffer.from([t, v.length]), v);
  const raw = Buffer.concat(parts);
  // Pad to a multiple of 4 as MSNPSharp GetBytes does (libpurple reads either).
  return Buffer.concat([raw, Buffer.alloc((4 - (raw.length % 4)) % 4)]);
};

/** A whole version 2 data packet (header, data header, payload, footer), msn_p2p_header_to_wire's layout. */
export function buildP2pV2(p: P2pV2Packet): Buffer {
  const htlv = tlvBytes(p.headerTlvs ?? []);
  const dtlvList: Array<[number, Buffer]> = [];
  if (p.remaining !== undefined) {
    const r = Buffer.alloc(8);
    r.writeBigUInt64BE(BigInt(p.remaining), 0);
    dtlvList.push([TLV_REMAINING, r]);
  }
  const dtlv = tlvBytes(dtlvList);
  const head = Buffer.alloc(8);
  head[0] = 8 + htlv.length;
  head[1] = p.opcode ?? 0;
  head.writeUInt16BE(8 + dtlv.length + p.payload.length, 2);
  head.writeUInt32BE(p.baseId >>> 0, 4);
  const dhead = Buffer.alloc(8);
  dhead[0] = 8 + dtlv.length;
  dhead[1] = p.tf;
  dhead.writeUInt16BE(p.packageNumber & 0xffff, 2);
  dhead.writeUInt32BE(p.sessionId >>> 0, 4);
  const footer = Buffer.alloc(P2P_FOOTER_BYTES);
  footer.writeUInt32BE((p.appId ?? 0) >>> 0, 0);
  return Buffer.concat([head, htlv, dhead, dtlv, p.payload, footer]);
}

/**
 * The same BYE as one MSNP2P version 2 packet (session 0, TF_FIRST, no
 * remaining TLV: whole in one packet). `baseId` is the gateway's guess; the
 * peer's real sequence is not known to it (libpurple does not check it on
 * receipt, p2p.c msn_p2p_header_from_wire).
 */
export function buildByeV2(to: string, from: string, callId: string, branch: string, baseId = 0x7ffe0000): Buffer {
  return buildP2pV2({ baseId, tf: TF_FIRST, packageNumber: 0, sessionId: 0, payload: byeSlp(to, from, callId, branch) });
}
