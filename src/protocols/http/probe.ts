// Recognises HTTP/1.x by the client's request line: a method, one SP,
// a request target without blanks or controls, one SP, "HTTP/1." and a digit,
// then CRLF. HTTP is client-first: the server side never matches. A target
// longer than the probe window still matches once method and the target's
// first bytes have the right shape (the head limits apply later).
import type { ProbeResult, Side } from '../types';

const MAX_METHOD = 20;
/** Bytes of target after which the shape is trusted without seeing the version. */
const TRUST_TARGET = 256;
const VERSION = 'HTTP/1.';

/**
 * Method characters: upper-case letters, '-' and '_' (GET, PROPFIND,
 * M-SEARCH, ...). RFC 9110 allows any token, but a probe that accepted every
 * token would answer 'more' to any short run of letters or digits, and a
 * client-first protocol that opens with one and waits (as the bench's
 * 16-byte request did) would stall for the whole probe timeout.
 */
function isMethodChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f;
}

export function probeHttp(from: Side, head: Buffer): ProbeResult {
  if (from !== 'c2s') return 'no';
  const n = head.length;
  let i = 0;
  while (i < n && isMethodChar(head[i] as number)) i++;
  if (i === n) return i <= MAX_METHOD ? 'more' : 'no';
  if (i === 0 || i > MAX_METHOD || head[i] !== 0x20) return 'no';
  const targetStart = ++i;
  while (i < n) {
    const c = head[i] as number;
    if (c === 0x20) break;
    if (c <= 0x20 || c === 0x7f) return 'no';
    i++;
  }
  if (i === n) return n - targetStart >= TRUST_TARGET ? 'match' : 'more';
  if (i === targetStart) return 'no';
  i++;
  for (let k = 0; k < VERSION.length; k++, i++) {
    if (i >= n) return 'more';
    if (head[i] !== VERSION.charCodeAt(k)) return 'no';
  }
  if (i >= n) return 'more';
  const d = head[i] as number;
  if (d < 0x30 || d > 0x39) return 'no';
  if (++i >= n) return 'more';
  if (head[i] !== 0x0d) return 'no';
  if (++i >= n) return 'more';
  return head[i] === 0x0a ? 'match' : 'no';
}
