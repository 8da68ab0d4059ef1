// Finds the end of an XMPP stream header (RFC 6120 §4.7) in a byte stream:
// optional whitespace and <?xml ...?> declaration, then the <stream:stream ...>
// open tag, whose end is the first '>' outside an attribute value. The scan
// is a byte-level state machine that keeps no bytes (the caller holds the
// head); `streamTo` then reads the to= attribute from the complete tag.
import { parseHost, type ServerName } from './name';

const S_WS = 0;
const S_LT = 1;
const S_PI = 2;
const S_TAG = 3;
const S_DONE = 4;

const LT = 0x3c;
const GT = 0x3e;
const QM = 0x3f;
const DQ = 0x22;
const SQ = 0x27;

export class XmppHeadScanner {
  private state = S_WS;
  private quote = 0;
  private prev = 0;
  private pos = 0;
  /** Offsets of the open tag in the stream, once found. */
  tagStart = -1;
  tagEnd = -1;
  error: string | null = null;

  /** Scans `chunk` (the next bytes of the stream); true when decided (tag found or error). */
  push(chunk: Buffer): boolean {
    for (let i = 0; i < chunk.length && this.state !== S_DONE; i++) {
      const b = chunk[i] as number;
      const at = this.pos + i;
      switch (this.state) {
        case S_WS:
          if (b === LT) this.state = S_LT;
          // UTF-8 BOM and XML whitespace may precede the declaration.
          else if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a && b !== 0xef && b !== 0xbb && b !== 0xbf) this.fail(`byte 0x${b.toString(16)} before the stream header`);
          break;
        case S_LT:
          if (b === QM) this.state = S_PI;
          else if (b === 0x21) this.fail('comment or DOCTYPE before the stream header (RFC 6120 §11.1)');
          else {
            this.tagStart = at - 1;
            this.state = S_TAG;
          }
          break;
        case S_PI:
          if (b === GT && this.prev === QM) this.state = S_WS;
          break;
        case S_TAG:
          if (this.quote !== 0) {
            if (b === this.quote) this.quote = 0;
          } else if (b === DQ || b === SQ) this.quote = b;
          else if (b === LT) this.fail('"<" inside the stream header');
          else if (b === GT) {
            this.tagEnd = at + 1;
            this.state = S_DONE;
          }
          break;
      }
      this.prev = b;
    }
    this.pos += chunk.length;
    return this.state === S_DONE;
  }

  private fail(why: string): void {
    this.error = why;
    this.state = S_DONE;
  }
}

const ATTR = /\s([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

export type StreamToResult = { ok: true; name: ServerName } | { ok: false; error: string };

/** The to= domain of a complete stream open tag (`tag` runs from '<' to '>'). */
export function streamTo(tag: string): StreamToResult {
  const m = /^<([^\s/>]+)/.exec(tag);
  const qname = m ? (m[1] as string) : '';
  if (qname.slice(qname.indexOf(':') + 1) !== 'stream') return { ok: false, error: `first element <${qname.slice(0, 64)}> is not a stream header` };
  ATTR.lastIndex = 0;
  let to: string | undefined;
  for (let a = ATTR.exec(tag); a; a = ATTR.exec(tag)) {
    if (a[1] === 'to') {
      if (to !== undefined) return { ok: false, error: 'duplicate to= in the stream header' };
      to = a[2] ?? a[3] ?? '';
    }
  }
  if (to === undefined) return { ok: false, error: 'stream header without to=' };
  // A domainpart never needs escaping; an entity here is not a server name.
  const name = to.includes('&') ? null : parseHost(to);
  return name ? { ok: true, name } : { ok: false, error: `bad to= domain "${to.slice(0, 64)}"` };
}
