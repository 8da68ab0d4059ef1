// Splits one direction of an XMPP stream into its top-level units without
// building a tree: the stream header, each depth-1 element (stanza, SASL and
// stream-management nonza) with its exact bytes, whitespace keepalives, the
// closing </stream:stream>, and odd bytes (prolog, comments, stray text) that
// are passed on as they are. An explicit byte-level state machine over
// buffered chunks: a unit that spans chunks is held as slices, and its size is
// checked against the limit before each slice is kept.

export type UnitKind =
  | 'header' // <stream:stream ...> (depth stays 0; restarts produce another one)
  | 'stanza' // a complete depth-1 element
  | 'space' // whitespace between stanzas (keepalives)
  | 'close' // </stream:stream>
  | 'other'; // <?xml?>, comments, doctype, stray text between stanzas

export interface UnitSink {
  /**
   * One complete unit. `start` is its offset in the chunk being pushed when
   * the whole unit lies inside it (so callers can coalesce forwards), else -1.
   * `name` is the element's qualified name for 'header' and 'stanza'.
   */
  unit(kind: UnitKind, bytes: Buffer, start: number, name: string): void;
  /** The unit being read grew beyond the limit: nothing of it was kept. */
  overflow(limit: number): void;
}

const enum S {
  Top, // between units
  Space,
  Text, // stray text at depth 0
  Lt, // just read '<'
  StartName, // reading a start tag's name
  StartTag, // inside a start tag, after the name
  EndTag,
  Bang, // '<!' seen: comment, CDATA or declaration
  Comment,
  Cdata,
  Decl,
  Pi,
  Content, // character data inside a stanza
  Dead, // overflowed: swallow everything
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const QM = 0x3f;
const BANG = 0x21;
const DASH = 0x2d;
const RSQB = 0x5d;
const SQ = 0x27;
const DQ = 0x22;
const MAX_NAME = 64;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isHeaderName(name: string): boolean {
  return name === 'stream' || name.endsWith(':stream');
}

export class XmlUnitTokenizer {
  private state = S.Top;
  /** Element depth inside the current stanza (0 = between stanzas). */
  private depth = 0;
  private quote = 0;
  /** Last significant byte inside a tag (to spot '/>'). */
  private lastSig = 0;
  /** Progress through a multi-byte terminator ('-->', ']]>', '?>') or '<![CDATA['. */
  private match = 0;
  private name = '';
  /** Where the name being read starts in the current chunk. */
  private nameStart = 0;
  private unitName = '';
  /** Slices of the unit read in earlier chunks. */
  private held: Buffer[] = [];
  private heldLen = 0;

  constructor(
    private readonly sink: UnitSink,
    private readonly limit: number,
  ) {}

  /** Bytes of an unfinished unit currently held. */
  get pending(): number {
    return this.heldLen;
  }

  get dead(): boolean {
    return this.state === S.Dead;
  }

  push(chunk: Buffer): void {
    let start = 0; // where the current unit begins in this chunk
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === S.Dead) return;
      const c = chunk[i] as number;
      if (this.state !== S.Top && this.heldLen + (i - start) + 1 > this.limit) {
        this.die();
        return;
      }
      switch (this.state) {
        case S.Top:
          start = i;
          if (this.heldLen + 1 > this.limit) {
            this.die();
            return;
          }
          if (c === LT) {
            this.state = S.Lt;
          } else if (isSpace(c)) {
            this.state = S.Space;
          } else {
            this.state = S.Text;
          }
          i++;
          break;
        case S.Space:
          if (isSpace(c)) {
            i++;
          } else {
            this.emit('space', chunk, start, i, '');
            this.state = S.Top;
          }
          break;
        case S.Text:
          if (c === LT) {
            this.emit('other', chunk, start, i, '');
            this.state = S.Top;
          } else {
            i++;
          }
          break;
        case S.Lt:
          i++;
          if (c === QM) {
            this.state = S.Pi;
            this.match = 0;
          } else if (c === BANG) {
            this.state = S.Bang;
            this.match = 0;
          } else if (c === SLASH) {
            this.state = S.EndTag;
          } else {
            this.state = S.StartName;
            this.lastSig = c;
            this.quote = 0;
            this.name = '';
            this.nameStart = i - 1;
            if (c === GT) {
              // '<>': junk, treat as a tag (its name is that '>', as it always was)
              if (this.depth === 0) this.name = '>';
              this.state = S.StartTag;
              this.tagClosed(chunk, start, i);
            }
          }
          break;
        case S.StartName:
          i++;
          if (isSpace(c) || c === SLASH || c === GT) {
            // A top-level name is cut from the chunk once (its head, if it
            // began in an earlier chunk, is in this.name already).
            if (this.depth === 0) this.takeName(chunk, i - 1);
            this.state = S.StartTag;
            if (c === SLASH) this.lastSig = c;
            if (c === GT) this.tagClosed(chunk, start, i);
          } else {
            this.lastSig = c;
          }
          break;
        case S.StartTag: {
          // Attributes need no decision per byte: a tight loop to the tag's
          // '>' (outside quotes), bounded by where the unit would pass the limit.
          const stop = Math.min(n, start + this.limit - this.heldLen);
          let q = this.quote;
          let last = this.lastSig;
          let closed = false;
          while (i < stop) {
            const b = chunk[i++] as number;
            if (q !== 0) {
              if (b === q) q = 0;
            } else if (b === SQ || b === DQ) {
              q = b;
              last = b;
            } else if (b === GT) {
              closed = true;
              break;
            } else if (!isSpace(b)) {
              last = b;
            }
          }
          this.quote = q;
          this.lastSig = last;
          if (closed) this.tagClosed(chunk, start, i);
          break;
        }
        case S.EndTag:
          i++;
          if (c === GT) {
            if (this.depth <= 1) {
              const kind: UnitKind = this.depth === 0 ? 'close' : 'stanza';
              this.depth = 0;
              this.emit(kind, chunk, start, i, kind === 'stanza' ? this.unitName : '');
              this.state = S.Top;
            } else {
              this.depth--;
              this.state = S.Content;
            }
          }
          break;
        case S.Bang:
          i++;
          // '<!--' -> comment; '<![CDATA[' -> CDATA; anything else -> declaration.
          if (this.match === 0 && c === DASH) this.match = 1;
          else if (this.match === 1 && c === DASH) {
            this.state = S.Comment;
            this.match = 0;
          } else if (this.match === 0 && c === 0x5b) this.match = 10;
          else if (this.match >= 10 && this.match < 16 && c === '[CDATA['.charCodeAt(this.match - 9)) {
            this.match++;
            if (this.match === 16) {
              this.state = S.Cdata;
              this.match = 0;
            }
          } else {
            this.state = S.Decl;
            if (c === GT) this.afterMarkup(chunk, start, i);
          }
          break;
        case S.Comment:
          i++;
          if (c === DASH) this.match = this.match < 2 ? this.match + 1 : 2;
          else if (c === GT && this.match === 2) this.afterMarkup(chunk, start, i);
          else this.match = 0;
          break;
        case S.Cdata:
          i++;
          if (c === RSQB) this.match = this.match < 2 ? this.match + 1 : 2;
          else if (c === GT && this.match === 2) this.afterMarkup(chunk, start, i);
          else this.match = 0;
          break;
        case S.Decl:
          i++;
          if (c === GT) this.afterMarkup(chunk, start, i);
          break;
        case S.Pi:
          i++;
          if (c === QM) this.match = 1;
          else if (c === GT && this.match === 1) this.afterMarkup(chunk, start, i);
          else this.match = 0;
          break;
        case S.Content: {
          if (c === LT) {
            i++;
            this.state = S.Lt;
            break;
          }
          // Character data needs no per-byte decision: jump to the next '<'
          // (natively), checking the limit for the whole run at once.
          let j = chunk.indexOf(LT, i + 1);
          if (j < 0) j = n;
          if (this.heldLen + (j - start) > this.limit) {
            this.die();
            return;
          }
          i = j;
          break;
        }
      }
    }
    // Keep the unfinished unit's tail (the limit was checked byte by byte).
    const st = this.state as S;
    if (st === S.Dead) return;
    if (st === S.Space && this.heldLen === 0 && start < n) {
      // Whitespace needs no decision: pass it now rather than hold it.
      this.sink.unit('space', chunk.subarray(start, n), start, '');
      this.state = S.Top;
      return;
    }
    if (st === S.StartName && this.depth === 0) {
      // The name goes on in the next chunk: keep its head.
      this.takeName(chunk, n);
      this.nameStart = 0;
    }
    if (st !== S.Top && start < n) {
      const tail = chunk.subarray(start, n);
      this.held.push(tail);
      this.heldLen += tail.length;
    }
  }

  /** Drops whatever is held (end of stream); returns how many bytes were dropped. */
  reset(): number {
    const dropped = this.heldLen;
    this.held = [];
    this.heldLen = 0;
    this.depth = 0;
    if (this.state !== S.Dead) this.state = S.Top;
    return dropped;
  }

  /** Appends chunk[nameStart, end) to the top-level name being read (at most MAX_NAME chars are kept). */
  private takeName(chunk: Buffer, end: number): void {
    const room = MAX_NAME - this.name.length;
    if (room <= 0 || end <= this.nameStart) return;
    this.name += chunk.toString('latin1', this.nameStart, Math.min(end, this.nameStart + room));
  }

  private die(): void {
    this.state = S.Dead;
    this.held = [];
    this.heldLen = 0;
    this.sink.overflow(this.limit);
  }

  /** '>' of a start tag at index i-1. */
  private tagClosed(chunk: Buffer, start: number, end: number): void {
    const empty = this.lastSig === SLASH;
    if (this.depth === 0) {
      const name = this.name;
      if (!empty && isHeaderName(name)) {
        this.emit('header', chunk, start, end, name);
        this.state = S.Top;
        return;
      }
      this.unitName = name;
      if (empty) {
        this.emit('stanza', chunk, start, end, name);
        this.state = S.Top;
        return;
      }
      this.depth = 1;
      this.state = S.Content;
      return;
    }
    if (!empty) this.depth++;
    this.state = S.Content;
  }

  /** End of a comment, CDATA section, declaration or PI. */
  private afterMarkup(chunk: Buffer, start: number, end: number): void {
    this.match = 0;
    if (this.depth === 0) {
      this.emit('other', chunk, start, end, '');
      this.state = S.Top;
    } else {
      this.state = S.Content;
    }
  }

  private emit(kind: UnitKind, chunk: Buffer, start: number, end: number, name: string): void {
    let bytes: Buffer;
    let at = start;
    if (this.heldLen === 0) {
      bytes = chunk.subarray(start, end);
    } else {
      this.held.push(chunk.subarray(start, end));
      bytes = Buffer.concat(this.held);
      this.held = [];
      this.heldLen = 0;
      at = -1;
    }
    this.sink.unit(kind, bytes, at, name);
  }
}
