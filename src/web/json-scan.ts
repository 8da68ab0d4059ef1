// Finds every string value of a JSON document together with its key path and
// the byte range of its literal (quotes included), without building a tree:
// that range is what lets a redaction splice a new literal into the original
// bytes and leave every other byte as it was. An explicit, iterative state
// machine (no recursion), so nesting depth and leaf count are checked before
// anything grows; malformed input is reported as a WebBodyError.
import { WebBodyError } from './errors';

export type JsonPath = ReadonlyArray<string | number>;

export interface JsonLeaf {
  path: JsonPath;
  /** Byte offsets of the string literal, quotes included: [start, end). */
  start: number;
  end: number;
  value: string;
}

export interface JsonScanLimits {
  maxDepth: number;
  maxLeaves: number;
}

interface Frame {
  array: boolean;
  /** Current key (object) or index (array). */
  key: string | number;
  /** Object: expecting a key next (after '{' or ','). */
  wantKey: boolean;
  /** A value was read since the last ',' / the opening bracket. */
  hasValue: boolean;
}

const QUOTE = 0x22;
const BSLASH = 0x5c;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** End (exclusive) of the string literal opening at `i`, or -1 when unterminated. */
function stringEnd(buf: Buffer, i: number): number {
  let j = i + 1;
  const n = buf.length;
  while (j < n) {
    const c = buf[j] as number;
    if (c === QUOTE) return j + 1;
    if (c === BSLASH) j += 2;
    else j++;
  }
  return -1;
}

/** The slow path, for literals with escapes: a byte walk, then JSON.parse. */
function decodeEscaped(buf: Buffer, start: number, end: number): string {
  const k = firstControl(buf, start + 1, end - 1);
  if (k >= 0) throw new WebBodyError('json', `control character in a string at byte ${k}`);
  try {
    return JSON.parse(buf.toString('utf8', start, end)) as string;
  } catch {
    throw new WebBodyError('json', `invalid string literal at byte ${start}`);
  }
}

/**
 * First byte below 0x20 in buf[from, to), or -1. Four bytes per step (the
 * "has a byte less than n" word trick, exact for n <= 0x80): a 64 KiB chat
 * text is checked in a quarter of the iterations of a byte loop.
 */
function firstControl(buf: Buffer, from: number, to: number): number {
  let k = from;
  // Short literals (keys, ids): a view would cost more than it saves.
  if (to - from < 64) {
    for (; k < to; k++) if ((buf[k] as number) < 0x20) return k;
    return -1;
  }
  const off = buf.byteOffset;
  while (k < to && ((off + k) & 3) !== 0) {
    if ((buf[k] as number) < 0x20) return k;
    k++;
  }
  const words = (to - k) >> 2;
  if (words > 0) {
    const u = new Uint32Array(buf.buffer, off + k, words);
    for (let w = 0; w < words; w++) {
      const x = u[w] as number;
      if (((x - 0x20202020) & ~x & 0x80808080) !== 0) break;
      k += 4;
    }
  }
  for (; k < to; k++) if ((buf[k] as number) < 0x20) return k;
  return -1;
}

/** Position of the next backslash at or after `from`, remembered across literals (one memchr per backslash, not per literal). */
interface EscapeCursor {
  at: number;
}

function nextBackslash(buf: Buffer, cur: EscapeCursor, from: number): number {
  if (cur.at !== -1 && cur.at < from) cur.at = buf.indexOf(BSLASH, from);
  return cur.at;
}

/**
 * The string literal opening at `i`: its end (exclusive) and value, or end -1
 * when unterminated. Literals without a backslash (nearly all) are found with
 * memchr and decoded in one native call; the rest take the byte walk. Errors
 * and their byte offsets are the byte walk's, either way.
 */
function readString(buf: Buffer, i: number, cur: EscapeCursor): { end: number; value: string } {
  const q = buf.indexOf(QUOTE, i + 1);
  if (q < 0) return { end: -1, value: '' };
  const bs = nextBackslash(buf, cur, i + 1);
  if (bs === -1 || bs > q) {
    const k = firstControl(buf, i + 1, q);
    if (k >= 0) throw new WebBodyError('json', `control character in a string at byte ${k}`);
    return { end: q + 1, value: buf.toString('utf8', i + 1, q) };
  }
  const end = stringEnd(buf, i);
  if (end < 0) return { end: -1, value: '' };
  return { end, value: decodeEscaped(buf, i, end) };
}

const LITERAL = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;

/** Scans `buf` (one JSON document); throws WebBodyError on bad syntax or a limit. */
export function scanJson(buf: Buffer, limits: JsonScanLimits): JsonLeaf[] {
  const leaves: JsonLeaf[] = [];
  const stack: Frame[] = [];
  const n = buf.length;
  let i = 0;
  let done = false;
  const cur: EscapeCursor = { at: n === 0 ? -1 : buf.indexOf(BSLASH, 0) };

  const path = (): Array<string | number> => stack.map((f) => f.key);
  const valueStarts = (): void => {
    if (done) throw new WebBodyError('json', `data after the JSON document at byte ${i}`);
    const top = stack[stack.length - 1];
    if (top === undefined) return;
    if (top.wantKey || top.hasValue) throw new WebBodyError('json', `unexpected value at byte ${i}`);
  };
  const valueEnded = (): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) done = true;
    else top.hasValue = true;
  };

  while (i < n) {
    const c = buf[i] as number;
    if (isWs(c)) {
      i++;
      continue;
    }
    const top = stack[stack.length - 1];
    if (c === 0x7b || c === 0x5b) {
      valueStarts();
      if (stack.length >= limits.maxDepth) throw new WebBodyError('json', `nesting deeper than ${limits.maxDepth}`);
      const array = c === 0x5b;
      stack.push({ array, key: array ? 0 : '', wantKey: !array, hasValue: false });
      i++;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      if (top === undefined || top.array !== (c === 0x5d)) throw new WebBodyError('json', `unbalanced bracket at byte ${i}`);
      // "{" "}" and "[" "]" are fine; a trailing comma ("[1,]") is not.
      const empty = top.array ? !top.hasValue && top.key === 0 : top.wantKey && top.key === '';
      if (!empty && !top.hasValue) throw new WebBodyError('json', `trailing comma or missing value at byte ${i}`);
      stack.pop();
      valueEnded();
      i++;
      continue;
    }
    if (c === 0x2c) {
      if (top === undefined || !top.hasValue) throw new WebBodyError('json', `unexpected ',' at byte ${i}`);
      top.hasValue = false;
      if (top.array) top.key = (top.key as number) + 1;
      else top.wantKey = true;
      i++;
      continue;
    }
    if (c === 0x3a) throw new WebBodyError('json', `unexpected ':' at byte ${i}`);
    if (c === QUOTE) {
      const { end, value } = readString(buf, i, cur);
      if (end < 0) throw new WebBodyError('json', `unterminated string at byte ${i}`);
      if (top !== undefined && !top.array && top.wantKey) {
        top.key = value;
        top.wantKey = false;
        i = end;
        // The ':' must follow.
        while (i < n && isWs(buf[i] as number)) i++;
        if (buf[i] !== 0x3a) throw new WebBodyError('json', `expected ':' at byte ${i}`);
        i++;
        continue;
      }
      valueStarts();
      if (leaves.length >= limits.maxLeaves) throw new WebBodyError('json', `more than ${limits.maxLeaves} strings`);
      leaves.push({ path: path(), start: i, end, value });
      valueEnded();
      i = end;
      continue;
    }
    // number / true / false / null
    let j = i;
    while (j < n) {
      const d = buf[j] as number;
      if (isWs(d) || d === 0x2c || d === 0x7d || d === 0x5d || d === 0x3a) break;
      j++;
      if (j - i > 64) break;
    }
    const lit = buf.toString('latin1', i, j);
    if (!LITERAL.test(lit)) throw new WebBodyError('json', `invalid token at byte ${i}`);
    valueStarts();
    valueEnded();
    i = j;
  }
  if (stack.length > 0) throw new WebBodyError('json', 'document ends inside an object or array');
  if (!done) throw new WebBodyError('json', 'empty document');
  return leaves;
}

/** A JSON string literal for `s` (what replaces a redacted leaf). */
export function jsonLiteral(s: string): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}
