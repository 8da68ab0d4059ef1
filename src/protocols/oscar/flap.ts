// FLAP framing (wiki.nina.chat/wiki/Protocols/OSCAR/FLAP; Wireshark
// epan/dissectors/packet-aim.c dissect_aim_pdu):
//   uint8 0x2A, uint8 frame type (channel 1..5), uint16 sequence, uint16 length
// followed by `length` bytes of payload. The state machine is the shared
// HeaderFramer (src/protocols/framing); this is FLAP's header.
//
// After a gap (a capture that lost segments) or other non-FLAP bytes the
// framer resynchronises on the next plausible header instead of closing:
// the bytes it skips are forwarded unchanged, so the byte stream stays
// transparent, and a real server would reject them exactly as it would
// without the gateway.
import type { HeaderFormat } from '../framing/header-framer';

export const FLAP_START = 0x2a;
export const FLAP_HEADER_LEN = 6;

export const isFlapChannel = (c: number): boolean => c >= 1 && c <= 5;

/** Next offset >= p where a header could start (0x2A then a channel byte, or 0x2A at the end). */
function findCandidate(b: Buffer, p: number): number {
  let q = b.indexOf(FLAP_START, p);
  while (q !== -1) {
    if (q + 1 >= b.length || isFlapChannel(b[q + 1] as number)) return q;
    q = b.indexOf(FLAP_START, q + 1);
  }
  return b.length;
}

export const FLAP_FORMAT: HeaderFormat = {
  unitName: 'FLAP frame',
  headerLen: FLAP_HEADER_LEN,
  lengthOffset: 4,
  prefixLen: 2,
  prefixOk: (b, p, len) => b[p] === FLAP_START && (len < 2 || isFlapChannel(b[p + 1] as number)),
  onBadPrefix: findCandidate,
};
