// Builders for scripted Yahoo HTTP bodies (no capture or server exists: the
// shapes follow src/protocols/ymsg/http.ts, whose header names its sources).
import { writePacket } from '../../../../src/protocols/ymsg/packet';

export const AUTH = 0x57;
export const MESSAGE = 0x06;

export function ymsg(service: number, session: number, pairs: Array<[number, string]>, status = 0): Buffer {
  const p = writePacket({ version: 16, vendor: 0, service, status, session }, pairs.map(([key, v]) => ({ key, value: Buffer.from(v, 'utf8') })));
  if (p === undefined) throw new Error('packet too large');
  return p;
}

/** A /notify response body: packet count (LE u16), two opaque bytes, the packets. */
export function notifyBody(...packets: Buffer[]): Buffer {
  const prefix = Buffer.from([packets.length & 0xff, packets.length >> 8, 0, 0]);
  return Buffer.concat([prefix, ...packets]);
}

export const login = (account: string): Buffer => ymsg(AUTH, 0, [[1, account]]);
export const say = (session: number, from: string, to: string, text: string): Buffer =>
  ymsg(MESSAGE, session, [[1, from], [5, to], [14, text], [97, '1']]);
export const hear = (session: number, from: string, to: string, text: string): Buffer =>
  ymsg(MESSAGE, session, [[4, from], [5, to], [14, text], [97, '1']]);
