// One MSNP command line, split into its command and space-separated
// parameters (offsets kept so a parameter can be rewritten in place), and the
// rule that says whether a payload of N bytes follows it.
//
// Payload rule, after libpurple's msn/command.c (msn_check_payload_cmd /
// msn_set_payload_len): for the payload commands the LAST parameter is the
// payload byte length. It depends on the direction, because a few commands
// carry a payload one way only: the client's `QRY trid productid 32` has one,
// the server's answer `QRY trid` does not (its trid would be misread as a
// length); the server's `ADL trid OK` / `UUN trid OK` have a non-numeric last
// parameter and so no payload. MSG's layout also differs by direction: the
// client sends `MSG trid ack len`, the switchboard sends
// `MSG passport friendly len` (MSNP protocol docs, msnpiki "MSG" /
// hypothetic.org "Switchboard: Messages"). Error replies are three-digit
// codes; from MSNP13 on some carry a payload (`241 trid len`), so an error
// with two or more parameters whose last is numeric has one, while the
// classic `911 trid` (one parameter) has none.

export interface Param {
  start: number;
  end: number;
}

export interface MsnLine {
  /** Upper-case command, '' when the line does not start with one. */
  command: string;
  params: Param[];
  /** Bytes of the line including its CR LF. */
  length: number;
  /** Payload bytes that follow the line: 0 when none, -1 when the length parameter is malformed. */
  payload: number;
}

const C2S_PAYLOAD = new Set(['MSG', 'UUX', 'ADL', 'RML', 'FQY', 'UUN', 'UUM', 'QRY', 'GCF', 'PUT', 'DEL', 'SDG', 'UBX', 'UBN', 'UBM', 'NOT', 'IPG']);
// Server side: no QRY (its reply has no payload).
const S2C_PAYLOAD = new Set(['MSG', 'UUX', 'ADL', 'RML', 'FQY', 'UUN', 'UUM', 'GCF', 'PUT', 'DEL', 'SDG', 'UBX', 'UBN', 'UBM', 'NOT', 'IPG', 'NFY']);

const MAX_PARAMS = 32;
/** Ten digits covers every real length and stays a safe integer. */
const MAX_LENGTH_DIGITS = 10;

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isUpperAlnum = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || isDigit(b);

export function paramText(line: Buffer, p: Param | undefined): string {
  return p === undefined ? '' : line.toString('utf8', p.start, p.end);
}

function digitsValue(line: Buffer, p: Param): number {
  const n = p.end - p.start;
  if (n === 0 || n > MAX_LENGTH_DIGITS) return -1;
  let v = 0;
  for (let i = p.start; i < p.end; i++) {
    const b = line[i] as number;
    if (!isDigit(b)) return -1;
    v = v * 10 + (b - 0x30);
  }
  return v;
}

export type Dir = 'c2s' | 's2c';

/** Parses a complete command line (ending in LF, CR optional). Never throws. */
export function parseLine(line: Buffer, dir: Dir): MsnLine {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) end--;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  const result: MsnLine = { command: '', params: [], length: line.length, payload: 0 };
  let i = 0;
  while (i < end && isUpperAlnum(line[i] as number) && i < 4) i++;
  if (i !== 3 || (i < end && line[i] !== 0x20)) return result;
  result.command = line.toString('latin1', 0, 3);
  while (i < end && result.params.length < MAX_PARAMS) {
    while (i < end && line[i] === 0x20) i++;
    if (i >= end) break;
    const start = i;
    while (i < end && line[i] !== 0x20) i++;
    result.params.push({ start, end: i });
  }
  result.payload = payloadLength(line, result, dir);
  return result;
}

function payloadLength(line: Buffer, l: MsnLine, dir: Dir): number {
  const last = l.params[l.params.length - 1];
  if (last === undefined) return 0;
  const cmd = l.command;
  if (isDigit(cmd.charCodeAt(0))) {
    if (l.params.length < 2) return 0;
    const v = digitsValue(line, last);
    return v < 0 ? 0 : v;
  }
  const set = dir === 'c2s' ? C2S_PAYLOAD : S2C_PAYLOAD;
  if (!set.has(cmd)) return 0;
  const v = digitsValue(line, last);
  if (v >= 0) return v;
  // `ADL trid OK` and the like: a word, not a length.
  const first = line[last.start] as number;
  return isDigit(first) || first === 0x2d ? -1 : 0;
}
