// Byte-level building blocks of ICAP responses. Strings here are latin1:
// one char per byte, so header bytes round-trip unchanged.
import { STATUS_TEXT } from './errors';

export const CRLF = Buffer.from('\r\n', 'latin1');
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
/** CRLF ending the previous chunk's data followed by the last chunk. */
export const CRLF_LAST_CHUNK = Buffer.from('\r\n0\r\n\r\n', 'latin1');

let dateSecond = -1;
let dateLine = '';

/** "Date: <IMF-fixdate>\r\n", recomputed at most once per second. */
export function dateHeaderLine(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateLine = `Date: ${new Date(sec * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

const statusLines = new Map<number, string>();

/** "ICAP/1.0 <code> <text>\r\n" (cached per code). */
export function statusLine(code: number): string {
  let line = statusLines.get(code);
  if (line === undefined) {
    line = `ICAP/1.0 ${code} ${STATUS_TEXT[code] ?? 'Unknown'}\r\n`;
    statusLines.set(code, line);
  }
  return line;
}

/** Chunk-size line for a chunk of n bytes. */
export function chunkHeader(n: number): string {
  return n.toString(16) + '\r\n';
}

/** True when the string holds a code point above 0xFF (cannot be latin1). */
export function needsUtf8(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return true;
  return false;
}

/** Encode a head string: latin1 (byte-faithful) unless it needs UTF-8. */
export function headBytes(s: string): Buffer {
  return Buffer.from(s, needsUtf8(s) ? 'utf8' : 'latin1');
}
