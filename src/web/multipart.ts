// multipart/form-data (RFC 7578): each part's name, file name, type and the
// byte range of its content, read as a state machine over the whole (already
// bounded) body. Anything that does not follow the grammar (no opening or
// closing delimiter, a part without a head, too many parts or too long a
// head) is a WebBodyError: a malformed upload is never half-inspected.
import { WebBodyError } from './errors';

export interface Part {
  name?: string;
  filename?: string;
  contentType?: string;
  /** Content bytes: [start, end). */
  start: number;
  end: number;
}

export const MAX_PART_HEAD = 8192;

/** The boundary parameter of a multipart Content-Type, or null. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (contentType === undefined || !/^\s*multipart\//i.test(contentType)) return null;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  return m ? ((m[1] ?? m[2]) as string) : null;
}

function param(disposition: string, key: string): string | undefined {
  // filename*=UTF-8''x (RFC 5987) wins over filename="x" when both appear.
  const ext = new RegExp(`;\\s*${key}\\*\\s*=\\s*([^']*)'[^']*'([^;\\s]*)`, 'i').exec(disposition);
  if (ext) {
    try {
      return decodeURIComponent(ext[2] as string);
    } catch {
      /* fall through to the plain form */
    }
  }
  const m = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(disposition);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/** Name, file name and type from one part head (the lines between the delimiter and the blank line). */
export function parsePartHead(text: string): Pick<Part, 'name' | 'filename' | 'contentType'> {
  const out: Pick<Part, 'name' | 'filename' | 'contentType'> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new WebBodyError('multipart', `bad part header line ${JSON.stringify(line.slice(0, 60))}`);
    const hname = line.slice(0, colon).trim().toLowerCase();
    const hval = line.slice(colon + 1).trim();
    if (hname === 'content-disposition') {
      const name = param(hval, 'name');
      const filename = param(hval, 'filename');
      if (name !== undefined) out.name = name;
      if (filename !== undefined) out.filename = filename;
    } else if (hname === 'content-type') out.contentType = hval;
  }
  return out;
}

export function scanMultipart(buf: Buffer, boundary: string, maxParts: number): Part[] {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const next = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const parts: Part[] = [];
  // Preamble: the first delimiter may open the body or follow a CRLF.
  let i = buf.subarray(0, delim.length).equals(delim) ? 0 : buf.indexOf(next);
  if (i < 0) throw new WebBodyError('multipart', 'no opening boundary');
  i += i === 0 ? delim.length : next.length;
  for (;;) {
    // After a delimiter: "--" closes, else optional padding then CRLF opens a part.
    if (buf[i] === 0x2d && buf[i + 1] === 0x2d) return parts;
    while (buf[i] === 0x20 || buf[i] === 0x09) i++;
    if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) throw new WebBodyError('multipart', `bad delimiter line at byte ${i}`);
    i += 2;
    if (parts.length >= maxParts) throw new WebBodyError('multipart', `more than ${maxParts} parts`);
    const headEnd = buf.indexOf('\r\n\r\n', i, 'latin1');
    const emptyHead = buf[i] === 0x0d && buf[i + 1] === 0x0a;
    const contentStart = emptyHead ? i + 2 : headEnd + 4;
    if (!emptyHead && (headEnd < 0 || headEnd - i > MAX_PART_HEAD)) throw new WebBodyError('multipart', `part head missing or longer than ${MAX_PART_HEAD} bytes at byte ${i}`);
    const part: Part = { start: contentStart, end: contentStart };
    if (!emptyHead) Object.assign(part, parsePartHead(buf.toString('utf8', i, headEnd)));
    const end = buf.indexOf(next, contentStart);
    if (end < 0) throw new WebBodyError('multipart', 'no closing boundary');
    part.end = end;
    parts.push(part);
    i = end + next.length;
  }
}
