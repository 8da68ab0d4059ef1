// YMSG starts every packet, from either side, with the ASCII magic "YMSG"
// (libpurple yahoo_packet.c yahoo_packet_read; Wireshark packet-ymsg.c
// heuristic "YMSG" check). The version field is not checked: servers and
// clients of different generations put different values there.
import type { ProbeResult, Side } from '../types';
import { YMSG_MAGIC } from './packet';

export function probeYmsg(_from: Side, head: Buffer): ProbeResult {
  const m = Math.min(head.length, YMSG_MAGIC.length);
  if (!head.subarray(0, m).equals(YMSG_MAGIC.subarray(0, m))) return 'no';
  return head.length < YMSG_MAGIC.length ? 'more' : 'match';
}
