// Classifies one application/x-msnmsgrp2p MSG body for the hold: SLP INVITE
// chunks (session id 0) are collected, everything else passes (or waits in
// order behind an INVITE being collected). MSNP2P version 2 (MSNP16+,
// variable TLV header) is not decoded: an INVITE found in its body is still
// decided when it arrives whole in one MSG, without a 603 answer.
import { P2P_HEADER_BYTES, parseP2pHeader } from './p2p';
import type { HeldUnit, HoldStep, P2pHold } from './p2p-hold';

const INVITE = Buffer.from('INVITE MSNMSGR:', 'latin1');
/** A version 2 header with its TLVs stays well under this. */
const V2_SCAN = 512;
const V2_KEY = -1;

export function inspectP2p(hold: P2pHold, unit: HeldUnit, body: Buffer, sender: string | undefined): HoldStep {
  const h = parseP2pHeader(body);
  if (h !== null && h.sessionId === 0 && h.length > 0) {
    const chunk = body.subarray(P2P_HEADER_BYTES, P2P_HEADER_BYTES + h.length);
    if (hold.isPending(h.id)) {
      return h.offset === hold.expected(h.id) ? hold.more(unit, h.id, chunk) : hold.add(unit);
    }
    if (h.offset === 0 && chunk.subarray(0, INVITE.length).equals(INVITE)) {
      return hold.start(unit, h.id, chunk, h.totalSize, sender, true);
    }
    return hold.add(unit);
  }
  if (h === null) {
    const at = body.subarray(0, V2_SCAN).indexOf(INVITE);
    if (at >= 0) {
      const nul = body.indexOf(0, at);
      const chunk = body.subarray(at, nul < 0 ? body.length : nul);
      return hold.start(unit, V2_KEY, chunk, chunk.length, sender, false);
    }
  }
  return hold.add(unit);
}
