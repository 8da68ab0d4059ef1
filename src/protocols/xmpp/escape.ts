// XML text helpers. Inputs to decodeText are latin1 views of raw bytes (one
// char per byte); outputs are proper UTF-8-decoded strings.

const NON_ASCII = /[^\x00-\x7f]/;
const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g;

function entity(_m: string, e: string): string {
  switch (e) {
    case 'lt':
      return '<';
    case 'gt':
      return '>';
    case 'amp':
      return '&';
    case 'quot':
      return '"';
    case 'apos':
      return "'";
    default: {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
  }
}

/** True when the latin1 view holds only ASCII (it then reads the same as UTF-8). */
export function isAscii(raw: string): boolean {
  return !NON_ASCII.test(raw);
}

/**
 * latin1 view of raw bytes -> decoded text. `ascii`: the caller already knows
 * the bytes are ASCII (checked once for a whole unit, not per value).
 */
export function decodeText(raw: string, ascii = false): string {
  // Pure ASCII (the common case) reads the same in latin1 and UTF-8: skip
  // the round trip through a Buffer.
  const s = ascii || !NON_ASCII.test(raw) ? raw : Buffer.from(raw, 'latin1').toString('utf8');
  return s.indexOf('&') < 0 ? s : s.replace(ENTITY, entity);
}

/** Text or attribute value -> XML-safe (works inside '…' and "…"). */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;',
  );
}
