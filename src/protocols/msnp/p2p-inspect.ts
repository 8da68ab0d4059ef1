// Classifies one application/x-msnmsgrp2p MSG body for the hold: SLP INVITE
// chunks (session id 0) are collected, everything else passes (or waits in
// order behind an INVITE being collected).
//
// Version 1 bodies (48-byte header, session id 0) are tried first; a
// version 2 header (p2p.ts parseP2pV2, libpurple 2.10 p2p.c layout) can
// never read as a v1 SLP message because its first byte, header_len, is at
// least 8. A v2 INVITE's chunks are keyed by package number (ASSUMED fixed
// for the packets of one SLP message, as MSNPSharp sends them); its offset
// is size - remaining - payload, its size the first packet's payload plus
// its remaining TLV. A v2 INVITE is decided (its data then reassembled by
// p2p-files.ts) but a blocked one gets no 603: answering in v2 would need
// the sender's base id sequence, which the gateway does not own. A body
// neither parser reads is still scanned for a whole INVITE in one MSG.
import { P2P_HEADER_BYTES, parseP2pHeader } from './p2p';
import { parseP2pV2, TF_FIRST } from './p2p-v2';
import type { HeldUnit, HoldStep, P2pHold } from './p2p-hold';

const INVITE = Buffer.from('INVITE MSNMSGR:', 'latin1');
/** A version 2 header with its TLVs stays well under this. */
const V2_SCAN = 512;
/** Keys: v1 P2P ids are u32 (>= 0), v2 package numbers map to -1..-65536, the scan below them. */
const SCAN_KEY = -0x20000;
const v2Key = (packageNumber: number): number => -1 - packageNumber;

export function inspectP2p(hold: P2pHold, unit: HeldUnit, body: Buffer, sender: string | undefined): HoldStep {
  const h = parseP2pHeader(body);
  if (h !== null && h.sessionId === 0) {
    if (h.length === 0) return hold.add(unit);
    const chunk = body.subarray(P2P_HEADER_BYTES, P2P_HEADER_BYTES + h.length);
    if (hold.isPending(h.id)) {
      return h.offset === hold.expected(h.id) ? hold.more(unit, h.id, chunk) : hold.add(unit);
    }
    if (h.offset === 0 && chunk.subarray(0, INVITE.length).equals(INVITE)) {
      return hold.start(unit, h.id, chunk, h.totalSize, sender, 1);
    }
    return hold.add(unit);
  }
  const v = parseP2pV2(body);
  if (v !== null) {
    if (v.sessionId !== 0 || v.payloadLength === 0) return hold.add(unit);
    const key = v2Key(v.packageNumber);
    const chunk = body.subarray(v.payloadStart, v.payloadStart + v.payloadLength);
    if (hold.isPending(key)) {
      const total = hold.total(key);
      const offset = total - v.remaining - v.payloadLength;
      return offset === hold.expected(key) ? hold.more(unit, key, chunk) : hold.add(unit);
    }
    if ((v.tf & TF_FIRST) !== 0 && chunk.subarray(0, INVITE.length).equals(INVITE)) {
      return hold.start(unit, key, chunk, v.payloadLength + v.remaining, sender, 2);
    }
    return hold.add(unit);
  }
  if (h === null) {
    const at = body.subarray(0, V2_SCAN).indexOf(INVITE);
    if (at >= 0) {
      const nul = body.indexOf(0, at);
      const chunk = body.subarray(at, nul < 0 ? body.length : nul);
      return hold.start(unit, SCAN_KEY, chunk, chunk.length, sender, 0);
    }
  }
  return hold.add(unit);
}
