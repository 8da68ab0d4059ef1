// The ICAP request line and header block (RFC 3507 §4.3).
import { badRequest, IcapProtocolError } from './errors';
import { isToken, trimOws } from './http-head';
import type { IcapMethod } from './types';

export interface IcapHead {
  method: IcapMethod;
  uri: string;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Map<string, string>;
}

export interface IcapHeadLimits {
  maxLineBytes: number;
  maxHeaderCount: number;
}

/**
 * `text` (latin1) holds the request line and header lines without the final
 * blank line. Error precedence: malformed line 400, version 505, method 501.
 */
export function parseIcapHead(text: string, limits: IcapHeadLimits): IcapHead {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  if (lineEnd > limits.maxLineBytes) throw badRequest(`request line longer than ${limits.maxLineBytes} bytes`);
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || sp2 >= lineEnd || text.indexOf(' ', sp2 + 1) !== -1 && text.indexOf(' ', sp2 + 1) < lineEnd) {
    throw badRequest('malformed request line');
  }
  const method = text.slice(0, sp1);
  const uri = text.slice(sp1 + 1, sp2);
  const version = text.slice(sp2 + 1, lineEnd);
  if (!isToken(method) || uri.length === 0) throw badRequest('malformed request line');
  if (version !== 'ICAP/1.0') {
    if (/^ICAP\/\d+\.\d+$/.test(version)) throw new IcapProtocolError(505, `version ${version} not supported`);
    throw badRequest('malformed request line');
  }
  if (method !== 'REQMOD' && method !== 'RESPMOD' && method !== 'OPTIONS') {
    throw new IcapProtocolError(501, `method ${method} not implemented`);
  }
  const headers = new Map<string, string>();
  let count = 0;
  let lastName = '';
  let p = lineEnd + 2;
  while (p < text.length) {
    let e = text.indexOf('\r\n', p);
    if (e < 0) e = text.length;
    if (e - p > limits.maxLineBytes) throw badRequest(`ICAP header line longer than ${limits.maxLineBytes} bytes`);
    const c = text.charCodeAt(p);
    if (c === 0x20 || c === 0x09) {
      if (lastName === '') throw badRequest('continuation line before any ICAP header');
      headers.set(lastName, (headers.get(lastName)! + ' ' + text.slice(p, e).trim()).trim());
    } else {
      const colon = text.indexOf(':', p);
      if (colon < 0 || colon >= e) throw badRequest('ICAP header line without colon');
      const name = text.slice(p, colon);
      if (!isToken(name)) throw badRequest('invalid ICAP header name');
      if (++count > limits.maxHeaderCount) throw badRequest(`more than ${limits.maxHeaderCount} ICAP headers`);
      const lower = name.toLowerCase();
      const value = trimOws(text, colon + 1, e);
      const prev = headers.get(lower);
      headers.set(lower, prev === undefined ? value : prev + ', ' + value);
      lastName = lower;
    }
    p = e + 2;
  }
  return { method, uri, headers };
}

/** Split "icap://host:port/path?query" (or "/path?query") into path and query. */
export function splitIcapUri(uri: string): { path: string; query: string } {
  let start = 0;
  const scheme = uri.indexOf('://');
  if (scheme >= 0) {
    start = uri.indexOf('/', scheme + 3);
    if (start < 0) return { path: '/', query: '' };
  }
  const q = uri.indexOf('?', start);
  return q < 0 ? { path: uri.slice(start), query: '' } : { path: uri.slice(start, q), query: uri.slice(q + 1) };
}
