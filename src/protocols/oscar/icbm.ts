// ICBM (foodgroup 0x0004) message parsing and the few ICBMs the gateway
// writes itself. Layouts follow libpurple's oscar prpl
// (libpurple/protocols/oscar/family_icbm.c: aim_im_sendch1_ext,
// incomingim_ch1_parsemsg, incomingim_ch2, aim_im_sendch2_cancel) and
// wiki.nina.chat/wiki/Protocols/OSCAR/SNAC/ICBM_CHANNEL_MSG_TOHOST / _TOCLIENT:
//
//   04/06 (client -> host): cookie[8] channel:u16 snLen:u8 sn TLV...
//   04/07 (host -> client): cookie[8] channel:u16 snLen:u8 sn warning:u16
//                           userInfoTlvCount:u16 TLV[count]  TLV...
//   channel 1, TLV 0x02 "message block": fragments id:u8 version:u8 len:u16 data
//       0x05 0x01 capabilities; 0x01 0x01 text: charset:u16 subset:u16 bytes
//       (charset 0 = ASCII, 2 = UTF-16BE, 3 = ISO-8859-1)
//   channel 2, TLV 0x05 rendezvous: type:u16 (0 propose, 1 cancel, 2 accept)
//       cookie[8] capability UUID[16] TLV...; for file transfer (capability
//       09461343-4C7F-11D1-8222-444553540000) TLV 0x2711 carries
//       subtype:u16 (1 one file, 2 several) fileCount:u16 totalSize:u32 name\0
//       (libpurple family_icbm.c incomingim_ch2_sendfile; Wireshark packet-aim-messaging.c).
//       Where the offerer listens (libpurple family_icbm.c incomingim_ch2 and
//       peer.c peer_connection_trynext): TLV 0x0002 proxy/rendezvous IP,
//       0x0003 client (internal) IP, 0x0004 verified IP (stamped by the
//       server on 04/07), 0x0005 port, 0x0010 present = use AOL's proxy,
//       0x000A request number (1 = first proposal, 2 = reverse, 3 = proxy).
import { buildSnac } from './snac';
import type { Snac } from './snac';
import { ascii, findTlv, readTlvs, tlv } from './tlv';

export const ICBM_FAMILY = 0x0004;
export const ICBM_ERROR = 0x0001;
export const ICBM_TO_HOST = 0x0006;
export const ICBM_TO_CLIENT = 0x0007;

const TLV_MESSAGE_BLOCK = 0x0002;
const TLV_RENDEZVOUS = 0x0005;
const TLV_RV_SERVICE_DATA = 0x2711;
const FRAG_TEXT = 0x01;

export const RV_PROPOSE = 0;
export const RV_CANCEL = 1;

/** {09461343-4C7F-11D1-8222-444553540000}: AIM_CAPS_SENDFILE. */
export const CAP_FILE_TRANSFER = Buffer.from('094613434c7f11d18222444553540000', 'hex');

export interface Fragment {
  id: number;
  version: number;
  /** The fragment's data (for text: charset, subset, bytes). */
  data: Buffer;
  /** Decoded text, for text fragments. */
  text?: string;
  charset?: number;
}

export interface Rendezvous {
  type: number;
  cookie: Buffer;
  capability: Buffer;
  isFileTransfer: boolean;
  fileName?: string;
  fileSize?: number;
  fileCount?: number;
  /** IPv4 addresses the offerer names (TLVs 0x0002/0x0003/0x0004, dotted). */
  addresses: string[];
  port?: number;
  /** TLV 0x0010: the data goes through AOL's rendezvous proxy, not to the offerer. */
  proxy: boolean;
  /** TLV 0x0002 alone: with `proxy`, the rendezvous proxy's address. */
  proxyIp?: string;
  /** TLV 0x000A; absent means 1. */
  requestNumber: number;
}

const TLV_RV_PROXY_IP = 0x0002;
const TLV_RV_CLIENT_IP = 0x0003;
const TLV_RV_VERIFIED_IP = 0x0004;
const TLV_RV_PORT = 0x0005;
const TLV_RV_REQUEST_NUMBER = 0x000a;
const TLV_RV_USE_PROXY = 0x0010;

const ipv4 = (v: Buffer): string | undefined => (v.length === 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : undefined);

export interface Icbm {
  cookie: Buffer;
  channel: number;
  /** Recipient (04/06) or sender (04/07) screen name / UIN. */
  peer: string;
  /** Where TLV 0x02 sits inside the frame, when present (channel 1). */
  block?: { start: number; end: number; fragments: Fragment[] };
  rendezvous?: Rendezvous;
}

export function decodeText(bytes: Buffer, charset: number): string {
  if (charset === 2) {
    const even = bytes.subarray(0, bytes.length & ~1);
    return Buffer.from(even).swap16().toString('utf16le');
  }
  // ASCII and ISO-8859-1 alike: latin1 maps every byte to one code unit, so
  // re-encoding an unchanged text gives back the very same bytes.
  return bytes.toString('latin1');
}

export function encodeText(text: string, charset: number): Buffer {
  if (charset === 2) return Buffer.from(text, 'utf16le').swap16();
  return Buffer.from(text, 'latin1');
}

function parseFragments(value: Buffer): Fragment[] {
  const frags: Fragment[] = [];
  let p = 0;
  while (p + 4 <= value.length) {
    const id = value[p] as number;
    const version = value[p + 1] as number;
    const len = value.readUInt16BE(p + 2);
    if (p + 4 + len > value.length) break;
    const data = value.subarray(p + 4, p + 4 + len);
    const frag: Fragment = { id, version, data };
    if (id === FRAG_TEXT && data.length >= 4) {
      frag.charset = data.readUInt16BE(0);
      frag.text = decodeText(data.subarray(4), frag.charset);
    }
    frags.push(frag);
    p += 4 + len;
  }
  return frags;
}

function parseRendezvous(value: Buffer): Rendezvous | undefined {
  if (value.length < 26) return undefined;
  const rv: Rendezvous = {
    type: value.readUInt16BE(0),
    cookie: value.subarray(2, 10),
    capability: value.subarray(10, 26),
    isFileTransfer: value.subarray(10, 26).equals(CAP_FILE_TRANSFER),
    addresses: [],
    proxy: false,
    requestNumber: 1,
  };
  if (rv.isFileTransfer) {
    const tlvs = readTlvs(value, 26, value.length).tlvs;
    for (const t of tlvs) {
      if (t.tag === TLV_RV_PROXY_IP || t.tag === TLV_RV_CLIENT_IP || t.tag === TLV_RV_VERIFIED_IP) {
        const ip = ipv4(t.value);
        if (ip !== undefined && ip !== '0.0.0.0' && !rv.addresses.includes(ip)) rv.addresses.push(ip);
        if (ip !== undefined && t.tag === TLV_RV_PROXY_IP) rv.proxyIp = ip;
      } else if (t.tag === TLV_RV_PORT && t.value.length === 2) rv.port = t.value.readUInt16BE(0);
      else if (t.tag === TLV_RV_REQUEST_NUMBER && t.value.length === 2) rv.requestNumber = t.value.readUInt16BE(0);
      else if (t.tag === TLV_RV_USE_PROXY) rv.proxy = true;
    }
    const sd = findTlv(tlvs, TLV_RV_SERVICE_DATA);
    if (sd && sd.value.length >= 8) {
      rv.fileCount = sd.value.readUInt16BE(2);
      rv.fileSize = sd.value.readUInt32BE(4);
      const nameBytes = sd.value.subarray(8);
      const nul = nameBytes.indexOf(0);
      rv.fileName = nameBytes.subarray(0, nul === -1 ? nameBytes.length : nul).toString('utf8');
    }
  }
  return rv;
}

/** Parses 04/06 (toClient=false) or 04/07 (toClient=true); undefined if malformed. */
export function parseIcbm(frame: Buffer, snac: Snac, toClient: boolean): Icbm | undefined {
  let p = snac.dataStart;
  if (p + 11 > frame.length) return undefined;
  const cookie = frame.subarray(p, p + 8);
  const channel = frame.readUInt16BE(p + 8);
  const snLen = frame[p + 10] as number;
  p += 11;
  if (p + snLen > frame.length) return undefined;
  const peer = ascii(frame.subarray(p, p + snLen));
  p += snLen;
  if (toClient) {
    if (p + 4 > frame.length) return undefined;
    const count = frame.readUInt16BE(p + 2);
    const info = readTlvs(frame, p + 4, frame.length, count);
    if (info.tlvs.length < count) return undefined;
    p = info.end;
  }
  const { tlvs } = readTlvs(frame, p, frame.length);
  const icbm: Icbm = { cookie, channel, peer };
  if (channel === 1) {
    const mb = findTlv(tlvs, TLV_MESSAGE_BLOCK);
    if (mb) icbm.block = { start: mb.start, end: mb.valueStart + mb.value.length, fragments: parseFragments(mb.value) };
  } else if (channel === 2) {
    const rv = findTlv(tlvs, TLV_RENDEZVOUS);
    if (rv) {
      const parsed = parseRendezvous(rv.value);
      if (parsed) icbm.rendezvous = parsed;
    }
  }
  return icbm;
}

export function messageText(icbm: Icbm): string | undefined {
  const texts = icbm.block?.fragments.filter((f) => f.text !== undefined).map((f) => f.text as string);
  return texts && texts.length > 0 ? texts.join('') : undefined;
}

/**
 * The frame with every text fragment's text replaced by `rewrite(text)`,
 * and every enclosing length fixed: fragment, TLV 0x02 and the FLAP
 * length (SNACs carry no length). Undefined if a length would overflow 16 bits.
 */
export function rewriteTexts(frame: Buffer, icbm: Icbm, rewrite: (text: string) => string): Buffer | undefined {
  const block = icbm.block;
  if (!block) return undefined;
  const parts: Buffer[] = [];
  for (const f of block.fragments) {
    let data = f.data;
    if (f.text !== undefined && f.charset !== undefined) {
      const encoded = encodeText(rewrite(f.text), f.charset);
      data = Buffer.concat([f.data.subarray(0, 4), encoded]);
    }
    if (data.length > 0xffff) return undefined;
    const head = Buffer.from([f.id, f.version, data.length >> 8, data.length & 0xff]);
    parts.push(head, data);
  }
  const value = Buffer.concat(parts);
  if (value.length > 0xffff) return undefined;
  const out = Buffer.concat([frame.subarray(0, block.start), tlv(TLV_MESSAGE_BLOCK, value), frame.subarray(block.end)]);
  if (out.length - 6 > 0xffff) return undefined;
  out.writeUInt16BE(out.length - 6, 4);
  return out;
}

/**
 * SNAC 04/01 ICBM error. Code 0x000D ERROR__CODE_REQUEST_DENIED ("Host said
 * user or client is not allowed to do this", wiki.nina.chat
 * Protocols/OSCAR/Errors) is the truthful answer for a policy block;
 * libpurple maps it to "Request denied" and, because it looks the original
 * SNAC up by request id (family_icbm.c error()), names the recipient in the
 * "Unable to send message" notice.
 */
export const ICBM_ERR_REQUEST_DENIED = 0x000d;

export function buildIcbmError(requestId: number, code = ICBM_ERR_REQUEST_DENIED): Buffer {
  const data = Buffer.allocUnsafe(2);
  data.writeUInt16BE(code, 0);
  return buildSnac(ICBM_FAMILY, ICBM_ERROR, requestId, data);
}

function rendezvousTlv(type: number, cookie: Buffer, capability: Buffer): Buffer {
  const v = Buffer.allocUnsafe(26);
  v.writeUInt16BE(type, 0);
  cookie.copy(v, 2, 0, 8);
  capability.copy(v, 10, 0, 16);
  return tlv(TLV_RENDEZVOUS, v);
}

function icbmHead(cookie: Buffer, channel: number, sn: string): Buffer {
  const name = Buffer.from(sn, 'latin1').subarray(0, 255);
  const b = Buffer.alloc(11 + name.length);
  cookie.copy(b, 0, 0, 8);
  b.writeUInt16BE(channel, 8);
  b[10] = name.length;
  name.copy(b, 11);
  return b;
}

/** Client -> host rendezvous cancel (libpurple aim_im_sendch2_cancel): tells `peer` its offer is refused. */
export function buildCancelToHost(requestId: number, peer: string, rv: Rendezvous): Buffer {
  const data = Buffer.concat([icbmHead(rv.cookie, 2, peer), rendezvousTlv(RV_CANCEL, rv.cookie, rv.capability)]);
  return buildSnac(ICBM_FAMILY, ICBM_TO_HOST, requestId, data);
}

/** Host -> client rendezvous cancel, as if `peer` had cancelled the local user's offer. */
export function buildCancelToClient(peer: string, rv: Rendezvous): Buffer {
  const userInfo = Buffer.alloc(4); // warning level 0, no user-info TLVs
  const data = Buffer.concat([icbmHead(rv.cookie, 2, peer), userInfo, rendezvousTlv(RV_CANCEL, rv.cookie, rv.capability)]);
  return buildSnac(ICBM_FAMILY, ICBM_TO_CLIENT, 0, data);
}
