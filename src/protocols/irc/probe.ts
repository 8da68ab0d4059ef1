// Is this IRC? Decided by bytes only: the port says nothing (arkime's Twitch
// capture is on 80, nDPI's on 8000). Leading blanks and an IRCv3 tag section
// are tolerated.
// - Client side: the registration commands CAP, PASS, NICK, USER (and
//   STARTTLS, which comes before registration); or a
//   message line of the exact IRC shape "PRIVMSG|NOTICE <target> :" (zeek's
//   dcc-first-command capture starts with a PRIVMSG).
// - Server side (it may speak first): ":<prefix> NOTICE|PRIVMSG|PING|ERROR|
//   <3-digit numeric> ", or a bare "NOTICE AUTH"/"PRIVMSG <target> :" line.
import type { ProbeResult, Side } from '../types';
import { IRC_MAX_MESSAGE, IRC_MAX_TAGS } from './framer';

// STARTTLS too: a client upgrades before it registers (zeek's irc-starttls).
const REGISTRATION = ['CAP', 'PASS', 'NICK', 'USER', 'STARTTLS'];
const MESSAGE = ['PRIVMSG', 'NOTICE'];
const SERVER_AFTER_PREFIX = ['NOTICE', 'PRIVMSG', 'PING', 'ERROR'];
const PROBE_LIMIT = IRC_MAX_TAGS + IRC_MAX_MESSAGE;

const isBlank = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
const isEnd = (b: number): boolean => b === 0x20 || b === 0x0d || b === 0x0a;

/** Index of the byte ending the word at `i`, or -1 if it runs to the end of `head`. */
function wordEnd(head: Buffer, i: number): number {
  for (let j = i; j < head.length; j++) if (isEnd(head[j] as number)) return j;
  return -1;
}

/** 'match' with the index after the word, 'more', or 'no'. */
function word(head: Buffer, i: number, words: readonly string[], numeric = false): ProbeResult | number {
  const end = wordEnd(head, i);
  const w = head.toString('latin1', i, end < 0 ? head.length : Math.min(end, i + 16)).toUpperCase();
  if (end >= 0) return words.includes(w) || (numeric && /^\d{3}$/.test(w)) ? end : 'no';
  if (w.length > 8) return 'no';
  return words.some((x) => x.startsWith(w)) || (numeric && /^\d{0,3}$/.test(w)) ? 'more' : 'no';
}

/** After PRIVMSG/NOTICE: " <target> :" (target: no blanks, not too long). */
function messageShape(head: Buffer, i: number): ProbeResult {
  if (i >= head.length) return 'more';
  if (head[i] !== 0x20) return 'no';
  let j = i + 1;
  const start = j;
  while (j < head.length && !isBlank(head[j] as number)) j++;
  if (j - start > 200) return 'no';
  if (j + 1 >= head.length) return 'more';
  return j > start && head[j] === 0x20 && head[j + 1] === 0x3a ? 'match' : 'no';
}

function clientProbe(head: Buffer, i: number): ProbeResult {
  const reg = word(head, i, REGISTRATION);
  if (typeof reg === 'number') return 'match';
  const msg = word(head, i, MESSAGE);
  if (typeof msg === 'number') return messageShape(head, msg);
  return reg === 'more' || msg === 'more' ? 'more' : 'no';
}

function serverProbe(head: Buffer, i: number): ProbeResult {
  if (head[i] === 0x3a) {
    const end = wordEnd(head, i);
    if (end < 0) return head.length - i > 256 ? 'no' : 'more';
    let j = end;
    while (j < head.length && head[j] === 0x20) j++;
    if (j >= head.length) return 'more';
    const w = word(head, j, SERVER_AFTER_PREFIX, true);
    return typeof w === 'number' ? 'match' : w;
  }
  const notice = word(head, i, ['NOTICE']);
  if (typeof notice === 'number') {
    if (head.length < notice + 5) return 'more';
    return head.toString('latin1', notice, notice + 5).toUpperCase() === ' AUTH' ? 'match' : messageShape(head, notice);
  }
  const msg = word(head, i, ['PRIVMSG']);
  if (typeof msg === 'number') return messageShape(head, msg);
  return notice === 'more' || msg === 'more' ? 'more' : 'no';
}

export function probeIrc(from: Side, head: Buffer): ProbeResult {
  let i = 0;
  while (i < head.length && isBlank(head[i] as number)) i++;
  if (i >= head.length) return head.length >= PROBE_LIMIT ? 'no' : 'more';
  if (head[i] === 0x40) {
    // IRCv3 tags: skip to the space that ends them.
    const sp = head.indexOf(0x20, i);
    const lf = head.indexOf(0x0a, i);
    if (lf >= 0 && (sp < 0 || lf < sp)) return 'no';
    if (sp < 0) return head.length - i > IRC_MAX_TAGS ? 'no' : 'more';
    i = sp + 1;
    while (i < head.length && head[i] === 0x20) i++;
    if (i >= head.length) return 'more';
  }
  return from === 'c2s' ? clientProbe(head, i) : serverProbe(head, i);
}
