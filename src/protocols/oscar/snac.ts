// SNAC header inside a channel-2 FLAP payload:
//   uint16 foodgroup (family), uint16 subtype, uint16 flags, uint32 request id
// When flags & 0x8000 an optional, length-prefixed block follows before the
// data (wiki.nina.chat/wiki/Protocols/OSCAR/SNAC; Wireshark packet-aim.c
// "SNAC_FLAG_..." handling; seen in the real capture as SNAC 01/0A).
import { FLAP_HEADER_LEN, FLAP_START } from './flap';

export const SNAC_HEADER_LEN = 10;
const SNAC_FLAG_OPT_HEADER = 0x8000;

export interface Snac {
  family: number;
  subtype: number;
  flags: number;
  requestId: number;
  /** Offset of the SNAC data inside the frame buffer (after any optional header). */
  dataStart: number;
}

/** Parses the SNAC at the start of a channel-2 frame's payload; undefined if malformed. */
export function parseSnac(frame: Buffer): Snac | undefined {
  const p = FLAP_HEADER_LEN;
  if (frame.length < p + SNAC_HEADER_LEN) return undefined;
  const flags = frame.readUInt16BE(p + 4);
  let dataStart = p + SNAC_HEADER_LEN;
  if (flags & SNAC_FLAG_OPT_HEADER) {
    if (frame.length < dataStart + 2) return undefined;
    dataStart += 2 + frame.readUInt16BE(dataStart);
    if (dataStart > frame.length) return undefined;
  }
  return {
    family: frame.readUInt16BE(p),
    subtype: frame.readUInt16BE(p + 2),
    flags,
    requestId: frame.readUInt32BE(p + 6),
    dataStart,
  };
}

/** A FLAP frame; the caller supplies the (already renumbered) sequence number. */
export function buildFlap(channel: number, seq: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(FLAP_HEADER_LEN + payload.length);
  b[0] = FLAP_START;
  b[1] = channel;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt16BE(payload.length, 4);
  payload.copy(b, FLAP_HEADER_LEN);
  return b;
}

export function buildSnac(family: number, subtype: number, requestId: number, data: Buffer): Buffer {
  const b = Buffer.allocUnsafe(SNAC_HEADER_LEN + data.length);
  b.writeUInt16BE(family, 0);
  b.writeUInt16BE(subtype, 2);
  b.writeUInt16BE(0, 4);
  b.writeUInt32BE(requestId >>> 0, 6);
  data.copy(b, SNAC_HEADER_LEN);
  return b;
}

export const flapChannel = (frame: Buffer): number => frame[1] as number;
export const flapSeq = (frame: Buffer): number => frame.readUInt16BE(2);
