// Is this MSNP? Decided on the client's first command line, by bytes only
// (MSN Messenger's port 1863 says nothing: the HTTP gateway runs on 80):
//   notification server: `VER <trid> MSNP<n> ...`
//   switchboard:         `USR <trid> <passport> <cookie>`
//                        `ANS <trid> <passport> <cookie> <sessid>`
// The server never speaks first, so the server side never matches.
// A connection picked up mid-session (a capture that starts late, like
// nDPI's msnms.pcap stream 0) is also recognised by a client message:
// `MSG <trid> <U|N|A|D> <len>` followed by `MIME-Version:`, which no other
// protocol starts with.
import type { ProbeResult, Side } from '../types';

const COMMANDS = ['VER', 'USR', 'ANS'];
const MID_MSG = /^MSG \d{1,10} [UNAD] \d{1,10}$/;
const MIME = 'MIME-Version:';

/** Mid-session client MSG: 'match' only with the MIME header behind it. */
function probeMidMsg(head: Buffer, line: string, lf: number): ProbeResult {
  if (!MID_MSG.test(line)) return 'no';
  const next = head.toString('latin1', lf + 1, lf + 1 + MIME.length);
  if (next.length < MIME.length) return MIME.startsWith(next) ? 'more' : 'no';
  return next === MIME ? 'match' : 'no';
}
/** A first line longer than this is not an MSNP login. */
const MAX_FIRST_LINE = 512;

const DIGITS = /^\d{1,10}$/;
const PASSPORT = /^[^\s@]+@[^\s@]+$/;
const TOKEN = /^[\x21-\x7e]+$/;

/** Could `partial` still grow into a token that `test` accepts? */
const prefixOk = (partial: string, kind: 'digits' | 'passport' | 'token' | 'msnp'): boolean => {
  switch (kind) {
    case 'digits':
      return /^\d{0,10}$/.test(partial);
    case 'passport':
      return /^[^\s@]*(@[^\s@]*)?$/.test(partial);
    case 'msnp':
      return 'MSNP'.startsWith(partial) || /^MSNP\d*$/.test(partial);
    default:
      return partial === '' || TOKEN.test(partial);
  }
};

export function probeMsnp(from: Side, head: Buffer): ProbeResult {
  if (from !== 'c2s') return 'no';
  const lf = head.indexOf(0x0a);
  const complete = lf >= 0;
  if (!complete && head.length > MAX_FIRST_LINE) return 'no';
  let s = head.toString('latin1', 0, complete ? lf : Math.min(head.length, MAX_FIRST_LINE));
  if (complete) {
    if (!s.endsWith('\r')) return 'no';
    s = s.slice(0, -1);
  }
  const t = s.split(' ');
  const cmd = t[0] as string;
  if (t.length === 1 && !complete) return COMMANDS.some((c) => c.startsWith(cmd)) || 'MSG'.startsWith(cmd) ? 'more' : 'no';
  if (cmd === 'MSG') {
    if (complete) return probeMidMsg(head, s, lf);
    return /^MSG( \d{0,10}( [UNAD]?( \d{0,10})?)?)?$/.test(s) ? 'more' : 'no';
  }
  if (!COMMANDS.includes(cmd)) return 'no';
  const shape: Array<'digits' | 'passport' | 'token' | 'msnp'> =
    cmd === 'VER' ? ['digits', 'msnp'] : cmd === 'USR' ? ['digits', 'passport', 'token'] : ['digits', 'passport', 'token', 'digits'];
  const args = t.slice(1);
  if (complete) {
    if (cmd === 'VER') return args.length >= 2 && DIGITS.test(args[0] as string) && /^MSNP\d+$/.test(args[1] as string) ? 'match' : 'no';
    if (args.length !== shape.length) return 'no';
    const ok = args.every((a, i) => (shape[i] === 'digits' ? DIGITS.test(a) : shape[i] === 'passport' ? PASSPORT.test(a) : TOKEN.test(a)));
    return ok ? 'match' : 'no';
  }
  // Incomplete line: every token so far must fit the shape.
  for (let i = 0; i < args.length; i++) {
    const kind = shape[i];
    const a = args[i] as string;
    if (kind === undefined) return cmd === 'VER' ? 'more' : 'no';
    const last = i === args.length - 1;
    if (last ? !prefixOk(a, kind) : !(kind === 'digits' ? DIGITS.test(a) : kind === 'passport' ? PASSPORT.test(a) : kind === 'msnp' ? /^MSNP\d+$/.test(a) : TOKEN.test(a))) return 'no';
    // `VER 1 MSNP8 ` is enough: nothing else starts that way.
    if (cmd === 'VER' && kind === 'msnp' && /^MSNP\d+$/.test(a) && !last) return 'match';
  }
  return 'more';
}
