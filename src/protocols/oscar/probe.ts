// OSCAR detection by bytes (the real capture runs ICQ on port 443). The
// first FLAP on a connection is on channel 1 and starts with the FLAP
// version 00 00 00 01: the server sends exactly that (length 4) as its
// hello, the client answers with the same version followed by TLVs (a
// cookie or a login). Source: wiki.nina.chat/wiki/Protocols/OSCAR/FLAP
// ("FLAP version ... always 0x00000001"), iserverd's OSCAR docs
// ("Connection basics"), libpurple oscar/flap_connection.c.
import type { ProbeResult, Side } from '../types';
import { FLAP_HEADER_LEN, FLAP_START } from './flap';

const HELLO_LEN = 4;

export function probeOscar(from: Side, head: Buffer): ProbeResult {
  if (head.length === 0) return 'more';
  if (head[0] !== FLAP_START) return 'no';
  if (head.length < 2) return 'more';
  if (head[1] !== 1) return 'no';
  if (head.length < FLAP_HEADER_LEN) return 'more';
  const len = head.readUInt16BE(4);
  if (len < HELLO_LEN) return 'no';
  // The server's hello carries nothing else; a client's carries TLVs.
  if (from === 's2c' && len !== HELLO_LEN) return 'no';
  const need = FLAP_HEADER_LEN + HELLO_LEN;
  // Compare what we have of the version bytes before asking for more.
  const version = [0, 0, 0, 1];
  for (let i = FLAP_HEADER_LEN; i < Math.min(head.length, need); i++) {
    if (head[i] !== version[i - FLAP_HEADER_LEN]) return 'no';
  }
  return head.length < need ? 'more' : 'match';
}
