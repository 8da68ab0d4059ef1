// The YMSG packet: a 20-byte header and a key/value payload.
//   "YMSG" version:u16 vendorId:u16 payloadLength:u16 service:u16 status:u32 sessionId:u32
//   payload: key 0xC0 0x80 value 0xC0 0x80 ... (keys are decimal ASCII)
// Sources: libpurple libpurple/protocols/yahoo/yahoo_packet.c
// (yahoo_packet_read / yahoo_packet_write, YAHOO_PACKET_HDRLEN = 20) and
// yahoo_packet.h (enum yahoo_service); Wireshark epan/dissectors/packet-ymsg.c.

export const YMSG_MAGIC = Buffer.from('YMSG', 'latin1');
export const YMSG_HEADER_LEN = 20;
export const SEP = Buffer.from([0xc0, 0x80]);

/** Services this dissector acts on (libpurple yahoo_packet.h). */
export const Service = {
  MESSAGE: 0x06,
  FILETRANSFER: 0x46,
  P2PFILEXFER: 0x4d,
  AUTHRESP: 0x54,
  AUTH: 0x57,
  /** YAHOO_SERVICE_FILETRANS_15 / _INFO_15 / _ACC_15 (a.k.a. FILETRANSFER7*). */
  FILETRANS_15: 0xdc,
  FILETRANS_INFO_15: 0xdd,
  FILETRANS_ACC_15: 0xde,
} as const;

export const FILE_SERVICES: ReadonlySet<number> = new Set([
  Service.FILETRANSFER,
  Service.P2PFILEXFER,
  Service.FILETRANS_15,
  Service.FILETRANS_INFO_15,
  Service.FILETRANS_ACC_15,
]);

/** yahoo.c yahoo_process_message: status 2 = "Your Yahoo! message did not get sent." */
export const STATUS_MESSAGE_NOT_SENT = 2;

export interface YmsgHeader {
  version: number;
  vendor: number;
  length: number;
  service: number;
  status: number;
  session: number;
}

export interface Pair {
  key: number;
  value: Buffer;
}

export function readHeader(b: Buffer): YmsgHeader {
  return {
    version: b.readUInt16BE(4),
    vendor: b.readUInt16BE(6),
    length: b.readUInt16BE(8),
    service: b.readUInt16BE(10),
    status: b.readUInt32BE(12),
    session: b.readUInt32BE(16),
  };
}

/** Key/value pairs of a payload; a trailing pair without its final separator is kept (libpurple does the same). */
export function readPairs(payload: Buffer): Pair[] {
  const pairs: Pair[] = [];
  let p = 0;
  while (p < payload.length) {
    const kEnd = payload.indexOf(SEP, p);
    if (kEnd === -1) break;
    const key = Number.parseInt(payload.toString('latin1', p, kEnd), 10);
    const vStart = kEnd + 2;
    let vEnd = payload.indexOf(SEP, vStart);
    if (vEnd === -1) vEnd = payload.length;
    if (Number.isFinite(key)) pairs.push({ key, value: payload.subarray(vStart, vEnd) });
    p = vEnd + 2;
  }
  return pairs;
}

export function writePacket(h: Omit<YmsgHeader, 'length'>, pairs: readonly Pair[]): Buffer | undefined {
  const parts: Buffer[] = [];
  for (const { key, value } of pairs) parts.push(Buffer.from(String(key), 'latin1'), SEP, value, SEP);
  const payload = Buffer.concat(parts);
  if (payload.length > 0xffff) return undefined;
  const head = Buffer.allocUnsafe(YMSG_HEADER_LEN);
  YMSG_MAGIC.copy(head, 0);
  head.writeUInt16BE(h.version, 4);
  head.writeUInt16BE(h.vendor, 6);
  head.writeUInt16BE(payload.length, 8);
  head.writeUInt16BE(h.service, 10);
  head.writeUInt32BE(h.status >>> 0, 12);
  head.writeUInt32BE(h.session >>> 0, 16);
  return Buffer.concat([head, payload]);
}

/**
 * Values are UTF-8 when the client says so (key 97 = 1) and in practice
 * otherwise too; anything that is not valid UTF-8 is read as ISO-8859-1,
 * which libpurple also falls back to (yahoo_string_decode). Either way the
 * same encoding is used to write it back, so unchanged text keeps its bytes.
 */
export function decodeValue(v: Buffer): { text: string; encoding: 'utf8' | 'latin1' } {
  const text = v.toString('utf8');
  if (Buffer.byteLength(text, 'utf8') === v.length && Buffer.from(text, 'utf8').equals(v)) return { text, encoding: 'utf8' };
  return { text: v.toString('latin1'), encoding: 'latin1' };
}

export const str = (v: Buffer | undefined): string | undefined => (v === undefined ? undefined : v.toString('utf8'));
