// A small, lenient XML element reader for ONE complete unit (already bounded
// by the tokenizer's size limit). It works on the latin1 view of the bytes so
// every string index is a byte offset: that is what lets a redaction splice
// new text into the original bytes while leaving the rest byte-identical.
// Names keep their prefixes; `ns` is resolved from xmlns declarations in
// scope. Comments, PIs and DOCTYPEs are skipped; malformed input yields a
// best-effort tree, never an exception.
import { isAscii as isAsciiBytes } from 'node:buffer';
import { decodeText, isAscii } from './escape';

export interface Attr {
  value: string; // decoded, UTF-8
  /** Byte range of the raw value (between the quotes). */
  start: number;
  end: number;
}

export interface XElement {
  name: string; // qualified name as written
  local: string;
  ns: string;
  attrs: Map<string, Attr>;
  children: XElement[];
  /** Byte offsets: the whole element, and its content (between the tags). */
  start: number;
  end: number;
  innerStart: number;
  innerEnd: number;
  /** Decoded character data directly inside this element (text + CDATA). */
  text: string;
  parent: XElement | null;
}

/** Exactly the characters /\s/ matches in a latin1 string (tab..CR, space, NBSP). */
function isWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

function isNameEnd(c: number): boolean {
  return c === 0x2f || c === 0x3e || isWs(c);
}

function localOf(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

function resolveNs(el: XElement, prefix: string): string {
  const key = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  for (let e: XElement | null = el; e !== null; e = e.parent) {
    const a = e.attrs.get(key);
    if (a !== undefined) return a.value;
  }
  if (prefix === 'xml') return 'http://www.w3.org/XML/1998/namespace';
  return '';
}

/** Parses attributes of a start tag body s[from, to). */
function parseAttrs(s: string, from: number, to: number, attrs: Map<string, Attr>, ascii: boolean): void {
  let i = from;
  while (i < to) {
    while (i < to && isWs(s.charCodeAt(i))) i++;
    const eq = s.indexOf('=', i);
    if (eq < 0 || eq >= to) return;
    let ke = eq;
    while (ke > i && isWs(s.charCodeAt(ke - 1))) ke--;
    const key = s.slice(i, ke);
    let q = eq + 1;
    while (q < to && isWs(s.charCodeAt(q))) q++;
    const quote = s.charCodeAt(q);
    if (quote !== 0x22 && quote !== 0x27) return;
    const close = s.indexOf(quote === 0x22 ? '"' : "'", q + 1);
    if (close < 0 || close > to) return;
    if (key !== '' && !attrs.has(key)) {
      attrs.set(key, { value: decodeText(s.slice(q + 1, close), ascii), start: q + 1, end: close });
    }
    i = close + 1;
  }
}

/** Index of the '>' that ends the start tag opened at `from`, outside quoted values; `n` when there is none. */
function startTagEnd(s: string, from: number, n: number): number {
  // One pass over the tag: searching '>', "'" and '"' separately re-scanned
  // the rest of the unit (its body text included) for quotes a tag lacks.
  let q = 0;
  for (let j = from; j < n; j++) {
    const c = s.charCodeAt(j);
    if (q !== 0) {
      if (c === q) q = 0;
    } else if (c === 0x3e) {
      return j;
    } else if (c === 0x27 || c === 0x22) {
      q = c;
    }
  }
  return n;
}

/** Parses one unit's bytes (see parseElement); the ASCII check runs natively on the bytes. */
export function parseUnit(bytes: Buffer): XElement | null {
  return parseElement(bytes.toString('latin1'), isAsciiBytes(bytes));
}

/**
 * Parses `s` (latin1 view of the unit). Returns the first element; unclosed
 * elements (a stream header) end at the end of the input. `ascii`: whether
 * the unit holds only ASCII, when the caller already knows.
 */
export function parseElement(s: string, ascii = isAscii(s)): XElement | null {
  let root: XElement | null = null;
  let cur: XElement | null = null;
  let i = 0;
  const n = s.length;
  // One check for the whole unit (`ascii`): an ASCII unit needs no UTF-8
  // decoding of any value or text in it.
  while (i < n) {
    const lt = s.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    // Text pieces are appended as found (V8 joins them lazily).
    if (cur !== null && textEnd > i) cur.text += decodeText(s.slice(i, textEnd), ascii);
    if (lt < 0) break;
    i = lt;
    const next = s.charCodeAt(i + 1);
    if (next === 0x21 /* ! */) {
      if (s.startsWith('<!--', i)) {
        const e = s.indexOf('-->', i + 4);
        i = e < 0 ? n : e + 3;
        continue;
      }
      if (s.startsWith('<![CDATA[', i)) {
        const e = s.indexOf(']]>', i + 9);
        const stop = e < 0 ? n : e;
        if (cur !== null) cur.text += ascii ? s.slice(i + 9, stop) : Buffer.from(s.slice(i + 9, stop), 'latin1').toString('utf8');
        i = e < 0 ? n : e + 3;
        continue;
      }
    }
    if (next === 0x21 /* ! */ || next === 0x3f /* ? */) {
      const e = s.indexOf('>', i + 2);
      i = e < 0 ? n : e + 1;
      continue;
    }
    if (next === 0x2f /* / */) {
      const gt = s.indexOf('>', i);
      const end = gt < 0 ? n : gt + 1;
      if (cur !== null) {
        cur.innerEnd = i;
        cur.end = end;
        cur = cur.parent;
        if (cur === null) return root;
      }
      i = end;
      continue;
    }
    // Start tag: find its '>' outside quotes.
    const gt = startTagEnd(s, i + 1, n); // may be n (truncated)
    let nameEnd = i + 1;
    while (nameEnd < gt && !isNameEnd(s.charCodeAt(nameEnd))) nameEnd++;
    const empty = gt < n && s.charCodeAt(gt - 1) === 0x2f;
    const name = s.slice(i + 1, nameEnd);
    const el: XElement = {
      name,
      local: localOf(name),
      ns: '',
      attrs: new Map(),
      children: [],
      start: i,
      end: n,
      innerStart: Math.min(gt + 1, n),
      innerEnd: n,
      text: '',
      parent: cur,
    };
    parseAttrs(s, nameEnd, empty ? gt - 1 : gt, el.attrs, ascii);
    const colon = name.indexOf(':');
    el.ns = resolveNs(el, colon < 0 ? '' : name.slice(0, colon));
    if (cur !== null) cur.children.push(el);
    else if (root === null) root = el;
    else return root; // a second top-level element: not ours
    i = Math.min(gt + 1, n);
    if (empty) {
      el.innerStart = el.innerEnd = gt - 1;
      el.end = gt + 1;
      if (cur === null) return root;
    } else {
      cur = el;
    }
  }
  // Truncated: what is open keeps the text read so far.
  return root;
}

export function child(el: XElement, local: string, ns?: string): XElement | undefined {
  for (const c of el.children) if (c.local === local && (ns === undefined || c.ns === ns)) return c;
  return undefined;
}

export function attr(el: XElement, key: string): string | undefined {
  return el.attrs.get(key)?.value;
}

/** Depth-first search below `el` (bounded by the unit size). */
export function find(el: XElement, local: string, ns?: string): XElement | undefined {
  for (const c of el.children) {
    if (c.local === local && (ns === undefined || c.ns === ns)) return c;
    const d = find(c, local, ns);
    if (d !== undefined) return d;
  }
  return undefined;
}
