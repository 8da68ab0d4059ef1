// Synthetic YMSG packets, shaped after what libpurple's yahoo prpl sends and
// receives (libpurple/protocols/yahoo/yahoo.c yahoo_send_im: service 0x06,
// status YAHOO_STATUS_OFFLINE 0x5a55aa56, keys 1 5 14 97 63 64 206;
// yahoo_process_auth_new: AUTHRESP keys 0 6 96 1 135; yahoo_filexfer.c:
// FILETRANS_15 0xdc keys 1 5 265 222 27 28). No YMSG capture exists.

export function ymsg(service: number, status: number, pairs: Array<[number, string | Buffer]>, session = 0x12345678, version = 0x10): Buffer {
  const parts: Buffer[] = [];
  const sep = Buffer.from([0xc0, 0x80]);
  for (const [k, v] of pairs) parts.push(Buffer.from(String(k)), sep, typeof v === 'string' ? Buffer.from(v, 'utf8') : v, sep);
  const payload = Buffer.concat(parts);
  const h = Buffer.alloc(20);
  h.write('YMSG', 0, 'latin1');
  h.writeUInt16BE(version, 4);
  h.writeUInt16BE(0, 6);
  h.writeUInt16BE(payload.length, 8);
  h.writeUInt16BE(service, 10);
  h.writeUInt32BE(status, 12);
  h.writeUInt32BE(session, 16);
  return Buffer.concat([h, payload]);
}

export const STATUS_OFFLINE = 0x5a55aa56;

export const authReq = (me: string): Buffer => ymsg(0x57, 0, [[1, me]], 0);
export const authChallenge = (me: string): Buffer => ymsg(0x57, 1, [[1, me], [94, 'seedseedseed'], [13, '2']]);
export const authResp = (me: string): Buffer =>
  ymsg(0x54, 0, [[0, me], [6, 'resp6'], [96, 'resp96'], [1, me], [135, '6,0,0,1710']]);
export const imOut = (me: string, to: string, text: string | Buffer): Buffer =>
  ymsg(0x06, STATUS_OFFLINE, [[1, me], [5, to], [14, text], [97, '1'], [63, ';0'], [64, '0'], [206, '0']]);
export const imIn = (me: string, from: string, text: string): Buffer => ymsg(0x06, 1, [[5, me], [4, from], [14, text], [97, '1']]);
export const fileOffer = (me: string, to: string, name: string, size: number): Buffer =>
  ymsg(0xdc, 1, [[1, me], [5, to], [265, 'Zm9vYmFy'], [222, '1'], [266, '1'], [27, name], [28, String(size)]]);

/** Splits a stream of YMSG packets. */
export function packets(b: Buffer): Array<{ service: number; status: number; pairs: Array<[number, string]> }> {
  const out: Array<{ service: number; status: number; pairs: Array<[number, string]> }> = [];
  let p = 0;
  while (p < b.length) {
    if (b.toString('latin1', p, p + 4) !== 'YMSG') throw new Error(`no magic at ${p}`);
    const len = b.readUInt16BE(p + 8);
    const payload = b.subarray(p + 20, p + 20 + len);
    const fields = payload.toString('latin1').split('\xc0\x80');
    const pairs: Array<[number, string]> = [];
    for (let i = 0; i + 1 < fields.length; i += 2) pairs.push([Number(fields[i]), Buffer.from(fields[i + 1] as string, 'latin1').toString('utf8')]);
    out.push({ service: b.readUInt16BE(p + 10), status: b.readUInt32BE(p + 12), pairs });
    p += 20 + len;
  }
  return out;
}
