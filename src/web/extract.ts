// Turns one (decoded, bounded) HTTP body into the IM actions it carries, as
// conf/webim.yaml describes them: messages (text + the byte ranges it came
// from, for redaction), peer, account, and file attachments. JSON, form and
// multipart bodies; the parsers are lazy, so a body is parsed only in the
// shapes the endpoint asks for.
import type { EndpointMatch } from './catalog';
import { WebBodyError } from './errors';
import { scanForm, type FormField } from './form';
import { scanJson, type JsonLeaf, type JsonPath } from './json-scan';
import { multipartBoundary, scanMultipart, type Part } from './multipart';

/** Where a piece of text sits in the body and how to re-encode it. */
export interface Span {
  start: number;
  end: number;
  value: string;
  encoding: 'json' | 'form' | 'raw' | 'xml';
}

export interface FoundMessage {
  kind: 'message' | 'login';
  text?: string;
  spans: Span[];
  peer?: string;
  account?: string;
  /** XML stanza range (BOSH), so a blocked stanza can be cut out. */
  stanza?: { start: number; end: number };
}

export interface FoundFile {
  name?: string;
  contentType?: string;
  start: number;
  end: number;
}

export interface Extraction {
  messages: FoundMessage[];
  files: FoundFile[];
}

export interface ExtractInput {
  match: EndpointMatch;
  body: Buffer;
  contentType: string | undefined;
  header(name: string): string | undefined;
  limits: { maxJsonDepth: number; maxFields: number };
}

type Seg = { t: 'lit'; v: string } | { t: 'any' } | { t: 'deep' } | { t: 'cap'; name: string };

const patternCache = new Map<string, Seg[]>();

/** "rooms.join.{peer}.timeline.events.*" -> segments ('*' one key/index, '**' any run). */
export function compileJsonPath(p: string): Seg[] {
  const hit = patternCache.get(p);
  if (hit !== undefined) return hit;
  const segs: Seg[] = p === '' ? [] : p.split('.').map((s): Seg => {
    if (s === '*') return { t: 'any' };
    if (s === '**') return { t: 'deep' };
    const cap = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s);
    return cap ? { t: 'cap', name: cap[1] as string } : { t: 'lit', v: s };
  });
  if (patternCache.size < 4096) patternCache.set(p, segs);
  return segs;
}

function matchSegs(segs: Seg[], si: number, path: JsonPath, pi: number, caps: Record<string, string>): boolean {
  if (si === segs.length) return pi === path.length;
  const s = segs[si] as Seg;
  if (s.t === 'deep') {
    for (let k = pi; k <= path.length; k++) if (matchSegs(segs, si + 1, path, k, caps)) return true;
    return false;
  }
  if (pi >= path.length) return false;
  const v = path[pi] as string | number;
  if (s.t === 'lit' && String(v) !== s.v) return false;
  if (s.t === 'cap') caps[s.name] = String(v);
  return matchSegs(segs, si + 1, path, pi + 1, caps);
}

export function matchJsonPath(pattern: string, path: JsonPath, caps: Record<string, string> = {}): boolean {
  return matchSegs(compileJsonPath(pattern), 0, path, 0, caps);
}

function globRe(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[\\^$.+?()|[\]{}]/g, '\\$&').replace(/\*/g, '.*')}$`, 's');
}

/** Lazy views of the body in each shape. */
class BodyView {
  private json: JsonLeaf[] | null = null;
  private form: FormField[] | null = null;
  private parts: Part[] | null = null;

  constructor(private readonly input: ExtractInput) {}

  get body(): Buffer {
    return this.input.body;
  }

  private shape: 'json' | 'form' | 'multipart' | 'other' | null = null;

  private kind(): 'json' | 'form' | 'multipart' | 'other' {
    this.shape ??= this.sniff();
    return this.shape;
  }

  private sniff(): 'json' | 'form' | 'multipart' | 'other' {
    const ct = (this.input.contentType ?? '').toLowerCase();
    if (ct.startsWith('multipart/')) return 'multipart';
    if (ct.startsWith('application/x-www-form-urlencoded')) return 'form';
    if (ct.includes('json')) return 'json';
    // APIs that post JSON as text/plain (or without a type): sniff the first byte.
    const b = this.input.body;
    let i = 0;
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    return b[i] === 0x7b || b[i] === 0x5b ? 'json' : 'other';
  }

  jsonLeaves(): JsonLeaf[] {
    if (this.json === null) {
      const { maxJsonDepth, maxFields } = this.input.limits;
      this.json = this.kind() === 'json' ? scanJson(this.input.body, { maxDepth: maxJsonDepth, maxLeaves: maxFields }) : [];
    }
    return this.json;
  }

  formFields(): FormField[] {
    if (this.form === null) this.form = this.kind() === 'form' ? scanForm(this.input.body, this.input.limits.maxFields) : [];
    return this.form;
  }

  multipartParts(): Part[] {
    if (this.parts === null) {
      if (this.kind() !== 'multipart') this.parts = [];
      else {
        const boundary = multipartBoundary(this.input.contentType);
        if (boundary === null) throw new WebBodyError('multipart', 'multipart Content-Type without a boundary');
        this.parts = scanMultipart(this.input.body, boundary, this.input.limits.maxFields);
      }
    }
    return this.parts;
  }

  /** JSON leaves inside one multipart part (e.g. Discord's payload_json). */
  partJson(part: Part): JsonLeaf[] {
    const { maxJsonDepth, maxFields } = this.input.limits;
    const leaves = scanJson(this.input.body.subarray(part.start, part.end), { maxDepth: maxJsonDepth, maxLeaves: maxFields });
    return leaves.map((l) => ({ ...l, start: l.start + part.start, end: l.end + part.start }));
  }
}

interface Item {
  /** JSON leaves of this item, with paths relative to the item. */
  leaves: JsonLeaf[];
  captures: Record<string, string>;
  /** Form and multipart sources apply only to the whole-body item. */
  whole: boolean;
}

function itemsOf(view: BodyView, match: EndpointMatch): Item[] {
  const ep = match.endpoint;
  if (ep.items === undefined) return [{ leaves: view.jsonLeaves(), captures: match.captures, whole: true }];
  const segs = compileJsonPath(ep.items);
  const n = segs.length;
  const groups = new Map<string, Item>();
  for (const leaf of view.jsonLeaves()) {
    if (leaf.path.length <= n) continue;
    const caps: Record<string, string> = { ...match.captures };
    if (!matchSegs(segs, 0, leaf.path.slice(0, n), 0, caps)) continue;
    const key = leaf.path.slice(0, n).join('\u0000');
    let item = groups.get(key);
    if (item === undefined) {
      item = { leaves: [], captures: caps, whole: false };
      groups.set(key, item);
    }
    item.leaves.push({ ...leaf, path: leaf.path.slice(n) });
  }
  return [...groups.values()];
}

interface Source {
  kind: string;
  arg: string;
  /** json: the compiled path; multipart: the compiled field glob and the JSON path after '#'. */
  segs: Seg[] | null;
  glob: RegExp | null;
  jsonPath: Seg[] | null;
}

const sourceCache = new Map<string, Source>();
/** Captures a text/peer source match makes are not used: one shared sink instead of an object per leaf. */
const CAPS_SINK: Record<string, string> = {};

/** "json:a.b" -> its parts, compiled once per source string (conf/webim.yaml holds a bounded set). */
function parseSource(src: string): Source {
  const hit = sourceCache.get(src);
  if (hit !== undefined) return hit;
  const colon = src.indexOf(':');
  const kind = colon < 0 ? src : src.slice(0, colon);
  const arg = colon < 0 ? '' : src.slice(colon + 1);
  const out: Source = { kind, arg, segs: null, glob: null, jsonPath: null };
  if (kind === 'json') out.segs = compileJsonPath(arg);
  else if (kind === 'form') out.glob = globRe(arg);
  else if (kind === 'multipart') {
    const hash = arg.indexOf('#');
    out.glob = globRe(hash < 0 ? arg : arg.slice(0, hash));
    if (hash >= 0) out.jsonPath = compileJsonPath(arg.slice(hash + 1));
  }
  if (sourceCache.size < 4096) sourceCache.set(src, out);
  return out;
}

/** Values (and spans when the value sits in the body) of one source for one item. */
function resolve(view: BodyView, input: ExtractInput, item: Item, src: string, out: Span[], values: string[]): void {
  const s = parseSource(src);
  switch (s.kind) {
    case 'json': {
      const segs = s.segs as Seg[];
      for (const l of item.leaves) if (matchSegs(segs, 0, l.path, 0, CAPS_SINK)) out.push({ start: l.start, end: l.end, value: l.value, encoding: 'json' });
      return;
    }
    case 'form': {
      if (!item.whole) return;
      const re = s.glob as RegExp;
      for (const f of view.formFields()) if (re.test(f.name)) out.push({ start: f.start, end: f.end, value: f.value, encoding: 'form' });
      return;
    }
    case 'multipart': {
      if (!item.whole) return;
      const re = s.glob as RegExp;
      const jp = s.jsonPath;
      for (const p of view.multipartParts()) {
        if (p.filename !== undefined || p.name === undefined || !re.test(p.name)) continue;
        if (jp === null) {
          out.push({ start: p.start, end: p.end, value: view.body.toString('utf8', p.start, p.end), encoding: 'raw' });
        } else {
          for (const l of view.partJson(p)) if (matchSegs(jp, 0, l.path, 0, CAPS_SINK)) out.push({ start: l.start, end: l.end, value: l.value, encoding: 'json' });
        }
      }
      return;
    }
    case 'path': {
      const v = item.captures[s.arg];
      if (v !== undefined) values.push(v);
      return;
    }
    case 'query': {
      const v = input.match.query.get(s.arg);
      if (v !== null) values.push(v);
      return;
    }
    case 'header': {
      const v = input.header(s.arg);
      if (v !== undefined) values.push(v);
      return;
    }
    default:
      return;
  }
}

/** First non-empty value of a list of sources (peer, account, file name). */
function firstValue(view: BodyView, input: ExtractInput, item: Item, srcs: readonly string[]): string | undefined {
  if (srcs.length === 0) return undefined;
  const spans: Span[] = [];
  const values: string[] = [];
  for (const src of srcs) {
    // Truncating an empty array still costs a runtime call: only when something was found.
    if (spans.length !== 0) spans.length = 0;
    if (values.length !== 0) values.length = 0;
    resolve(view, input, item, src, spans, values);
    const v = spans[0]?.value ?? values[0];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

function whereHolds(item: Item, where: Record<string, string> | undefined): boolean {
  if (where === undefined) return true;
  for (const [path, want] of Object.entries(where)) {
    if (!item.leaves.some((l) => l.value === want && matchJsonPath(path, l.path))) return false;
  }
  return true;
}

/** Two sources naming the same bytes (e.g. "json:text" and "json:**.text") count once; sorted by position. */
function uniqueSpans(spans: Span[]): Span[] {
  if (spans.length <= 1) return spans;
  const seen = new Set<number>();
  return spans.filter((s) => (seen.has(s.start) ? false : (seen.add(s.start), true))).sort((a, b) => a.start - b.start);
}

/** The non-empty texts joined by newlines, or null when there is none (one text: no array, no join). */
function joinTexts(spans: Span[], values: string[]): string | null {
  if (values.length === 0 && spans.length === 1) {
    const v = (spans[0] as Span).value;
    return v === '' ? null : v;
  }
  const texts = [...spans.map((s) => s.value), ...values].filter((t) => t !== '');
  return texts.length === 0 ? null : texts.join('\n');
}

export function extractFields(input: ExtractInput): Extraction {
  const view = new BodyView(input);
  const ep = input.match.endpoint;
  const out: Extraction = { messages: [], files: [] };
  const items = ep.text.length > 0 || ep.items !== undefined ? itemsOf(view, input.match) : [];
  for (const item of items) {
    if (!whereHolds(item, ep.where)) continue;
    const spans: Span[] = [];
    const values: string[] = [];
    for (const src of ep.text) resolve(view, input, item, src, spans, values);
    const unique = uniqueSpans(spans);
    const text = joinTexts(unique, values);
    if (text === null) continue;
    const msg: FoundMessage = { kind: 'message', text, spans: unique };
    const peer = firstValue(view, input, item, ep.peer);
    const account = firstValue(view, input, item, ep.account);
    if (peer !== undefined) msg.peer = peer;
    if (account !== undefined) msg.account = account;
    out.messages.push(msg);
  }
  const whole: Item = { leaves: [], captures: input.match.captures, whole: true };
  for (const src of ep.files) {
    if (src === 'body') {
      if (input.body.length === 0) continue;
      const f: FoundFile = { start: 0, end: input.body.length };
      const name = firstValue(view, input, whole, ep.file_name);
      if (name !== undefined) f.name = name;
      if (input.contentType !== undefined) f.contentType = input.contentType;
      out.files.push(f);
    } else if (src.startsWith('multipart:')) {
      const re = globRe(src.slice('multipart:'.length));
      for (const p of view.multipartParts()) {
        if (p.filename === undefined || (p.name !== undefined && !re.test(p.name))) continue;
        const f: FoundFile = { start: p.start, end: p.end, name: p.filename };
        if (p.contentType !== undefined) f.contentType = p.contentType;
        out.files.push(f);
      }
    }
  }
  return out;
}
