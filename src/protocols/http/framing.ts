// Which body follows a head (RFC 9112 §6.3), and how a rewritten body is
// framed again: Content-Length spliced into the original head (the rest of
// the head stays byte-identical) or one chunk plus the last-chunk.
import type { ParsedHttpHead } from '../../../icap/http-head';
import type { Framing } from './body';

/** Every value of a header, comma lists split, trimmed, lower-cased. */
export function headerTokens(head: ParsedHttpHead, name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (const [n, v] of head.headers) {
    if (n.length !== lower.length || n.toLowerCase() !== lower) continue;
    for (const p of v.split(',')) {
      const t = p.trim().toLowerCase();
      if (t !== '') out.push(t);
    }
  }
  return out;
}

function contentLength(head: ParsedHttpHead): number | 'absent' | 'invalid' {
  const values = headerTokens(head, 'content-length');
  if (values.length === 0) return 'absent';
  const first = values[0] as string;
  if (!/^\d{1,15}$/.test(first) || values.some((v) => v !== first)) return 'invalid';
  return Number(first);
}

/** Framing of a request body, or an error text (ambiguous framing closes the tunnel). */
export function requestFraming(head: ParsedHttpHead): Framing | string {
  const te = headerTokens(head, 'transfer-encoding');
  const cl = contentLength(head);
  if (te.length > 0) {
    // Both headers: the two ends might disagree on where the body ends.
    if (cl !== 'absent') return 'request with both Transfer-Encoding and Content-Length';
    if (te[te.length - 1] !== 'chunked') return `request Transfer-Encoding ${te.join(',')} does not end in chunked`;
    return { kind: 'chunked' };
  }
  if (cl === 'invalid') return 'invalid Content-Length';
  if (cl === 'absent' || cl === 0) return { kind: 'none' };
  return { kind: 'length', length: cl };
}

/** Framing of a response body to a request made with `method` (undefined: no request seen). */
export function responseFraming(head: ParsedHttpHead, status: number, method: string | undefined): Framing | string {
  if (method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) return { kind: 'none' };
  if (method === 'CONNECT' && status >= 200 && status < 300) return { kind: 'none' };
  const te = headerTokens(head, 'transfer-encoding');
  if (te.length > 0) return te[te.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  const cl = contentLength(head);
  if (cl === 'invalid') return 'invalid Content-Length in response';
  if (cl === 'absent') return { kind: 'close' };
  return cl === 0 ? { kind: 'none' } : { kind: 'length', length: cl };
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\s]+) HTTP\/1\.\d$/;
const STATUS_LINE = /^HTTP\/1\.\d (\d{3})(?: .*)?$/;

export function parseRequestLine(line: string): { method: string; target: string } | null {
  const m = REQUEST_LINE.exec(line);
  return m ? { method: m[1] as string, target: m[2] as string } : null;
}

export function parseStatusLine(line: string): number | null {
  const m = STATUS_LINE.exec(line);
  return m ? Number(m[1]) : null;
}

/** Path and query of a request target (origin-form or absolute-form). */
export function pathOf(target: string): string {
  const scheme = target.indexOf('://');
  if (scheme < 0 || scheme > 10) return target;
  const slash = target.indexOf('/', scheme + 3);
  return slash < 0 ? '/' : target.slice(slash);
}

const CL_LINE = /(^|\r\n)content-length[ \t]*:[^\r]*\r\n/gi;

/** The head with its Content-Length set to `length` (added before the blank line if absent). */
export function withContentLength(raw: Buffer, length: number): Buffer {
  const text = raw.toString('latin1');
  let found = false;
  let out = text.replace(CL_LINE, (_m, pre: string) => {
    if (found) return pre; // duplicates (equal values) collapse to one
    found = true;
    return `${pre}Content-Length: ${length}\r\n`;
  });
  if (!found) out = out.slice(0, out.length - 2) + `Content-Length: ${length}\r\n\r\n`;
  return Buffer.from(out, 'latin1');
}

/** The head without the named header lines. */
export function withoutHeader(raw: Buffer, name: string): Buffer {
  const re = new RegExp(`\\r\\n${name.replace(/[-]/g, '\\-')}[ \\t]*:[^\\r]*(?=\\r\\n)`, 'gi');
  return Buffer.from(raw.toString('latin1').replace(re, ''), 'latin1');
}

/** A whole body as chunked coding: one chunk and the last-chunk. */
export function rechunk(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from('0\r\n\r\n');
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
}
