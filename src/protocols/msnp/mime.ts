// The payload of an MSNP MSG: MIME-style headers, a blank line, the body
// (hypothetic.org / msnpiki "Messages": `MIME-Version: 1.0`,
// `Content-Type: text/plain; charset=UTF-8`, `X-MMS-IM-Format: ...`).
// Only the header block is decoded as text; the body may be binary (P2P).

export interface MsgPayload {
  /** Lower-case media type without parameters, e.g. 'text/plain'; '' when absent. */
  contentType: string;
  /** Offset of the body inside the payload (after the blank line). */
  bodyStart: number;
  /** Header values by lower-case name (first occurrence). */
  headers: Map<string, string>;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Real header blocks are a few hundred bytes. */
const MAX_HEADER_BYTES = 8192;

export function parseMsgPayload(payload: Buffer): MsgPayload | null {
  const end = payload.indexOf(CRLFCRLF, 0);
  if (end < 0 || end > MAX_HEADER_BYTES) return null;
  const headers = new Map<string, string>();
  for (const raw of payload.toString('utf8', 0, end).split('\r\n')) {
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const name = raw.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, raw.slice(colon + 1).trim());
  }
  const ct = headers.get('content-type') ?? '';
  const semi = ct.indexOf(';');
  return { contentType: (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase(), bodyStart: end + 4, headers };
}
