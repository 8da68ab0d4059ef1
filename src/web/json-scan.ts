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

function decodeString(buf: Buffer, start: number, end: number): string {
  let escaped = false;
  for (let k = start + 1; k < end - 1; k++) {
    const c = buf[k] as number;
    if (c < 0x20) throw new WebBodyError('json', `control character in a string at byte ${k}`);
    if (c === BSLASH) escaped = true;
  }
  // Fast path: no escapes means the UTF-8 between the quotes is the value.
  if (!escaped) return buf.toString('utf8', start + 1, end - 1);
  try {
    return JSON.parse(buf.toString('utf8', start, end)) as string;
  } catch {
    throw new WebBodyError('json', `invalid string literal at byte ${start}`);
  }
}

const LITERAL = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;

/** Scans `buf` (one JSON document); throws WebBodyError on bad syntax or a limit. */
export function scanJson(buf: Buffer, limits: JsonScanLimits): JsonLeaf[] {
  const leaves: JsonLeaf[] = [];
  const stack: Frame[] = [];
  const n = buf.length;
  let i = 0;
  let done = false;

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
      const end = stringEnd(buf, i);
      if (end < 0) throw new WebBodyError('json', `unterminated string at byte ${i}`);
      const value = decodeString(buf, i, end);
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
