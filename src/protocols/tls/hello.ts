// Parses a complete ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2) for
// the two extensions that name the application: server_name (RFC 6066 §3)
// and ALPN (RFC 7301). Every length is checked against what is left; bad
// input yields an error string, never an exception or an out-of-range read.

export interface HelloInfo {
  sni?: string;
  alpn?: string[];
}

export type HelloResult = { ok: true; info: HelloInfo } | { ok: false; error: string };

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const NAME_TYPE_HOST = 0;
/** RFC 1035 limit; also what servers accept. */
const MAX_HOSTNAME = 255;
const HOSTNAME_CHARS = /^[\x21-\x7e]+$/;
const MAX_ALPN_ENTRIES = 16;

const fail = (error: string): HelloResult => ({ ok: false, error });

export function parseClientHello(b: Buffer): HelloResult {
  let p = 0;
  const end = b.length;
  // legacy_version(2) random(32)
  if (end < 35) return fail('ClientHello too short');
  p = 34;
  const sidLen = b[p] as number;
  p += 1;
  if (sidLen > 32 || p + sidLen > end) return fail('bad session_id length');
  p += sidLen;
  if (p + 2 > end) return fail('truncated cipher_suites');
  const csLen = b.readUInt16BE(p);
  p += 2;
  if (csLen < 2 || csLen % 2 !== 0 || p + csLen > end) return fail('bad cipher_suites length');
  p += csLen;
  if (p + 1 > end) return fail('truncated compression_methods');
  const cmLen = b[p] as number;
  p += 1;
  if (cmLen < 1 || p + cmLen > end) return fail('bad compression_methods length');
  p += cmLen;
  const info: HelloInfo = {};
  // SSL 3.0-era hellos may stop here: no extensions, so no SNI.
  if (p === end) return { ok: true, info };
  if (p + 2 > end) return fail('truncated extensions');
  const extLen = b.readUInt16BE(p);
  p += 2;
  if (p + extLen !== end) return fail('extensions length does not match the ClientHello');
  while (p < end) {
    if (p + 4 > end) return fail('truncated extension header');
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return fail('extension longer than the ClientHello');
    if (type === EXT_SERVER_NAME) {
      if (info.sni !== undefined) return fail('duplicate server_name extension');
      const r = serverName(b, p, p + len);
      if (typeof r !== 'string' || r === '') {
        if (r === null) return fail('bad server_name extension');
      } else info.sni = r;
    } else if (type === EXT_ALPN) {
      if (info.alpn !== undefined) return fail('duplicate ALPN extension');
      const r = alpn(b, p, p + len);
      if (r === null) return fail('bad ALPN extension');
      info.alpn = r;
    }
    p += len;
  }
  return { ok: true, info };
}

/** The host_name entry, lower-cased without a trailing dot; '' when there is none; null when malformed. */
function serverName(b: Buffer, start: number, end: number): string | null {
  // A server's echo of server_name is empty; a ClientHello's never is.
  if (start === end) return '';
  if (start + 2 > end) return null;
  const listLen = b.readUInt16BE(start);
  let p = start + 2;
  if (p + listLen !== end) return null;
  let host = '';
  while (p < end) {
    if (p + 3 > end) return null;
    const nameType = b[p] as number;
    const len = b.readUInt16BE(p + 1);
    p += 3;
    if (p + len > end) return null;
    if (nameType === NAME_TYPE_HOST && host === '') {
      if (len === 0 || len > MAX_HOSTNAME) return null;
      const name = b.toString('latin1', p, p + len);
      if (!HOSTNAME_CHARS.test(name)) return null;
      host = name.toLowerCase().replace(/\.$/, '');
    }
    p += len;
  }
  return host;
}

function alpn(b: Buffer, start: number, end: number): string[] | null {
  if (start + 2 > end) return null;
  const listLen = b.readUInt16BE(start);
  let p = start + 2;
  if (p + listLen !== end || listLen === 0) return null;
  const out: string[] = [];
  while (p < end) {
    const len = b[p] as number;
    p += 1;
    if (len === 0 || p + len > end) return null;
    // Protocol ids are opaque bytes; the registered ones are ASCII.
    if (out.length < MAX_ALPN_ENTRIES) out.push(b.toString('latin1', p, p + len).replace(/[^\x20-\x7e]/g, '?'));
    p += len;
  }
  return out;
}
