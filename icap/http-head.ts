// Encapsulated HTTP header blocks: parse (order, case and duplicates kept)
// and serialize (with CR/LF injection refused).
import { badRequest } from './errors';
import type { HeaderList, HttpHead, HttpHeadOut } from './types';

export class ParsedHttpHead implements HttpHead {
  constructor(
    readonly startLine: string,
    readonly headers: HeaderList,
  ) {}

  get(name: string): string | undefined {
    return getHeader(this.headers, name);
  }
}

/** First value of a header, case-insensitive. */
export function getHeader(headers: HeaderList, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    if (h[0].length === lower.length && h[0].toLowerCase() === lower) return h[1];
  }
  return undefined;
}

export interface HeadLimits {
  maxLineBytes: number;
  maxHeaderCount: number;
}

/**
 * Parse one header block. `text` is latin1 and spans the start line up to
 * and including the blank line ("\r\n\r\n" at its end, checked by the caller).
 */
export function parseHttpHead(text: string, limits: HeadLimits, what: string): ParsedHttpHead {
  const end = text.length - 4; // index of the final "\r\n\r\n"
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd <= 0) throw badRequest(`${what}: empty start line`);
  if (lineEnd > limits.maxLineBytes) throw badRequest(`${what}: start line longer than ${limits.maxLineBytes} bytes`);
  const startLine = text.slice(0, lineEnd);
  const headers: HeaderList = [];
  let p = lineEnd + 2;
  while (p < end + 2) {
    lineEnd = text.indexOf('\r\n', p);
    if (lineEnd - p > limits.maxLineBytes) throw badRequest(`${what}: header line longer than ${limits.maxLineBytes} bytes`);
    const c = text.charCodeAt(p);
    if (c === 0x20 || c === 0x09) {
      // obs-fold: RFC 7230 lets a recipient replace it with a space
      const last = headers[headers.length - 1];
      if (last === undefined) throw badRequest(`${what}: continuation line before any header`);
      last[1] = (last[1] + ' ' + text.slice(p, lineEnd).trim()).trim();
    } else {
      const colon = text.indexOf(':', p);
      if (colon < 0 || colon >= lineEnd) throw badRequest(`${what}: header line without colon`);
      const name = text.slice(p, colon);
      if (!isToken(name)) throw badRequest(`${what}: invalid header name`);
      if (headers.length >= limits.maxHeaderCount) throw badRequest(`${what}: more than ${limits.maxHeaderCount} headers`);
      headers.push([name, trimOws(text, colon + 1, lineEnd)]);
    }
    p = lineEnd + 2;
  }
  return new ParsedHttpHead(startLine, headers);
}

/** RFC 7230 token characters. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e ||
      c === 0x5e || c === 0x5f || c === 0x60 || c === 0x7c || c === 0x7e;
    if (!ok) return false;
  }
  return true;
}

export function trimOws(text: string, from: number, to: number): string {
  while (from < to && (text.charCodeAt(from) === 0x20 || text.charCodeAt(from) === 0x09)) from++;
  while (to > from && (text.charCodeAt(to - 1) === 0x20 || text.charCodeAt(to - 1) === 0x09)) to--;
  return text.slice(from, to);
}

function hasCrLf(s: string): boolean {
  return s.indexOf('\r') >= 0 || s.indexOf('\n') >= 0;
}

/** Serialize a head, ending with the blank line. Throws on CR/LF injection. */
export function serializeHttpHead(head: HttpHeadOut): string {
  if (head.startLine.length === 0 || hasCrLf(head.startLine)) throw new Error('invalid HTTP start line');
  let out = head.startLine + '\r\n';
  for (const [name, value] of head.headers) {
    if (!isToken(name) || hasCrLf(value)) throw new Error(`invalid HTTP header ${JSON.stringify(name)}`);
    out += name + ': ' + value + '\r\n';
  }
  return out + '\r\n';
}

/** Copy of the list without the named headers (case-insensitive). */
export function withoutHeaders(headers: HeaderList, names: readonly string[]): HeaderList {
  const lower = names.map((n) => n.toLowerCase());
  return headers.filter(([n]) => !lower.includes(n.toLowerCase()));
}

/** Copy with `name` set once to `value` (replacing every existing occurrence). */
export function withHeader(headers: HeaderList, name: string, value: string): HeaderList {
  const out = withoutHeaders(headers, [name]);
  out.push([name, value]);
  return out;
}
