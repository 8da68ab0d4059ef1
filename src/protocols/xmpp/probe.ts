// Recognises an XMPP c2s stream by its first bytes: an optional BOM and
// whitespace, an optional XML declaration, then `<stream:stream`. A stream
// picked up mid-way (a capture that starts after the handshake) opens with a
// stanza instead: `<message`, `<presence` or `<iq` followed by an attribute
// or the tag's end, names no other XML protocol starts with.
import type { ProbeResult, Side } from '../types';

const DECL = Buffer.from('<?xml');
const STREAM = Buffer.from('<stream:stream');
const STANZAS = ['<message', '<presence', '<iq'].map((s) => Buffer.from(s));
/** A declaration longer than this is not a real client's. */
const MAX_DECL = 200;

/** 'match' if `head` at `at` starts with `lit`, 'more' if it is a prefix of it, else 'no'. */
function startsWith(head: Buffer, at: number, lit: Buffer): ProbeResult {
  const avail = Math.min(head.length - at, lit.length);
  for (let i = 0; i < avail; i++) if (head[at + i] !== lit[i]) return 'no';
  return avail === lit.length ? 'match' : 'more';
}

function skipSpace(head: Buffer, at: number): number {
  let i = at;
  while (i < head.length) {
    const c = head[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

export function probeXmpp(_from: Side, head: Buffer): ProbeResult {
  let i = 0;
  if (head[0] === 0xef) {
    const bom = startsWith(head, 0, Buffer.from([0xef, 0xbb, 0xbf]));
    if (bom !== 'match') return bom;
    i = 3;
  }
  i = skipSpace(head, i);
  if (i >= head.length) return 'more';
  const decl = startsWith(head, i, DECL);
  if (decl === 'more') return 'more';
  if (decl === 'match') {
    const close = head.indexOf('?>', i + DECL.length);
    if (close < 0) return head.length - i > MAX_DECL ? 'no' : 'more';
    i = skipSpace(head, close + 2);
    if (i >= head.length) return 'more';
  }
  const stream = startsWith(head, i, STREAM);
  if (stream !== 'no') return stream;
  for (const lit of STANZAS) {
    const r = startsWith(head, i, lit);
    if (r === 'more') return 'more';
    if (r === 'match') {
      const after = head[i + lit.length];
      if (after === undefined) return 'more';
      return after === 0x20 || after === 0x3e || after === 0x2f || after === 0x0a || after === 0x09 || after === 0x0d ? 'match' : 'no';
    }
  }
  return 'no';
}
