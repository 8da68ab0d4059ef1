// conf/webim.yaml: which HTTP requests are web IM and where their message
// text, peer, account and attachments live. Data that operators extend; it is
// validated (errors name the key) and compiled once per load, so matching a
// request costs a host lookup and a few anchored RegExps.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, formatIssues } from '../config/errors';
import { parseYaml, readSmallFile } from '../config/load';

const SOURCE = /^(?:json:[^\s]+|form:[^\s]+|multipart:[^\s#]+(?:#[^\s]+)?|path:[A-Za-z_][A-Za-z0-9_]*|query:[^\s]+|header:[A-Za-z0-9-]+|body)$/;
const source = z
  .string({ invalid_type_error: 'expected a source string' })
  .regex(SOURCE, 'expected json:<path> | form:<name> | multipart:<name>[#<json path>] | path:<placeholder> | query:<name> | header:<name> | body');
const sources = z.array(source, { invalid_type_error: 'expected a list of sources' });
const str = z.string({ invalid_type_error: 'expected a string' }).min(1, 'expected a non-empty string');
const appName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected an app name of a-z 0-9 . _ - (lower case)');
const hostPattern = z
  .string({ invalid_type_error: 'expected a host pattern string' })
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.string().regex(/^(\*|(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*)$/, 'expected "*", "host.example" or "*.example"'));
const pathPattern = z
  .string({ invalid_type_error: 'expected a path pattern string' })
  .regex(/^\/[^\s?#]*$/, 'expected a path starting with "/" (no query); * = one segment part, ** = anything, {name} = a captured segment');

export const ERROR_SHAPES = ['generic', 'slack', 'matrix', 'discord', 'mattermost', 'rocketchat', 'teams', 'googlechat', 'bosh', 'msn'] as const;
export type ErrorShape = (typeof ERROR_SHAPES)[number];
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values as unknown as [T[number], ...T[number][]], { errorMap: () => ({ message: `expected one of ${values.join(', ')}` }) });

const endpointSchema = z
  .object({
    name: str.optional(),
    methods: z.array(z.string().regex(/^[A-Z]+$/, 'expected an upper-case HTTP method')).min(1).default(['POST', 'PUT']),
    paths: z.array(pathPattern).min(1, 'expected at least one path pattern'),
    /** 'request' (REQMOD: outbound) or 'response' (RESPMOD: inbound). */
    phase: oneOf(['request', 'response'] as const).default('request'),
    handler: oneOf(['fields', 'bosh', 'msn-gateway', 'yahoo-http'] as const).default('fields'),
    /** JSON path of the items of a list of messages (responses); default: the whole body is one message. */
    items: str.optional(),
    /** Item-relative string values an item must have, e.g. { type: m.room.message }. */
    where: z.record(z.string()).optional(),
    text: sources.default([]),
    peer: sources.default([]),
    account: sources.default([]),
    /** Where attachments are: multipart:<field name glob> (parts with a filename) or body (the body is the file). */
    files: sources.default([]),
    file_name: sources.default([]),
    error: oneOf(ERROR_SHAPES).optional(),
  })
  .strict();

const appSchema = z
  .object({
    hosts: z.array(hostPattern, { invalid_type_error: 'expected a list of host patterns' }),
    protocol: z.string().regex(/^[a-z0-9-]{1,32}$/, 'expected a lower-case protocol name').default('http'),
    error: oneOf(ERROR_SHAPES).default('generic'),
    endpoints: z.array(endpointSchema).min(1, 'expected at least one endpoint'),
  })
  .strict();

const count = (max: number) => z.number({ invalid_type_error: 'expected an integer' }).int('expected an integer').min(1).max(max);

export const webImSchema = z
  .object({
    limits: z
      .object({
        max_body_bytes: count(64 * 1024 * 1024).default(2 * 1024 * 1024),
        max_decoded_bytes: count(256 * 1024 * 1024).default(8 * 1024 * 1024),
        max_decode_ratio: count(10_000).default(10),
        max_json_depth: count(10_000).default(64),
        max_fields: count(1_000_000).default(10_000),
      })
      .strict()
      .default({}),
    /** A body that cannot be read: 'default' = the policy's default action. */
    on_error: oneOf(['allow', 'block', 'default'] as const).default('default'),
    apps: z.record(appName, appSchema).default({}),
  })
  .strict();

export type WebImDoc = z.output<typeof webImSchema>;
export type EndpointDoc = z.output<typeof endpointSchema>;
export type WebImLimits = WebImDoc['limits'];

export interface Endpoint extends EndpointDoc {
  app: string;
  protocol: string;
  errorShape: ErrorShape;
  /** Compiled path patterns (named groups = placeholders). */
  pathRes: RegExp[];
}

export interface EndpointMatch {
  endpoint: Endpoint;
  /** Values of the {placeholders} in the path (decoded). */
  captures: Record<string, string>;
  path: string;
  query: URLSearchParams;
}

/** "/api/v*\/channels/{peer}/messages" -> anchored RegExp. */
export function compilePathPattern(p: string): RegExp {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '*' && p[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '{') {
      const close = p.indexOf('}', i);
      const name = close > i ? p.slice(i + 1, close) : '';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`bad placeholder in ${p}`);
      out += `(?<${name}>[^/]+)`;
      i = close;
    } else out += c.replace(/[\\^$.+?()|[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export class WebImCatalog {
  readonly limits: WebImLimits;
  readonly onError: WebImDoc['on_error'];
  private readonly exact = new Map<string, Endpoint[]>();
  private readonly suffixes: Array<{ suffix: string; endpoints: Endpoint[] }> = [];
  private readonly any: Endpoint[] = [];

  constructor(
    readonly doc: WebImDoc,
    readonly file: string | null,
  ) {
    this.limits = doc.limits;
    this.onError = doc.on_error;
    for (const [app, a] of Object.entries(doc.apps)) {
      const eps: Endpoint[] = a.endpoints.map((e) => ({
        ...e,
        app,
        protocol: e.handler === 'bosh' ? 'xmpp' : e.handler === 'msn-gateway' ? 'msnp' : e.handler === 'yahoo-http' ? 'ymsg' : a.protocol,
        errorShape: e.error ?? a.error,
        pathRes: e.paths.map(compilePathPattern),
      }));
      for (const h of a.hosts) {
        if (h === '*') this.any.push(...eps);
        else if (h.startsWith('*.')) this.suffixes.push({ suffix: h.slice(1), endpoints: eps });
        else {
          const list = this.exact.get(h) ?? [];
          list.push(...eps);
          this.exact.set(h, list);
        }
      }
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.suffixes.length === 0 && this.any.length === 0;
  }

  /** The endpoint a request belongs to, for the given phase; undefined for non-IM traffic. */
  match(phase: 'request' | 'response', method: string, host: string | undefined, pathAndQuery: string): EndpointMatch | undefined {
    const q = pathAndQuery.indexOf('?');
    const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    // Hosts reach here lower-cased (http-event.ts); the check keeps callers that do not.
    const h = host === undefined ? '' : hasUpper(host) ? host.toLowerCase() : host;
    // Per request: no list of lists, no closures; exact, then suffixes, then "*".
    const ex = this.exact.get(h);
    if (ex !== undefined) {
      const m = matchList(ex, phase, method, path, pathAndQuery, q);
      if (m !== undefined) return m;
    }
    for (const s of this.suffixes) {
      if (!h.endsWith(s.suffix) && h !== s.suffix.slice(1)) continue;
      const m = matchList(s.endpoints, phase, method, path, pathAndQuery, q);
      if (m !== undefined) return m;
    }
    return this.any.length === 0 ? undefined : matchList(this.any, phase, method, path, pathAndQuery, q);
  }
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return true;
  }
  return false;
}

const NO_CAPTURES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function matchList(list: readonly Endpoint[], phase: string, method: string, path: string, pathAndQuery: string, q: number): EndpointMatch | undefined {
  for (const ep of list) {
    if (ep.phase !== phase || !ep.methods.includes(method)) continue;
    for (const re of ep.pathRes) {
      const m = re.exec(path);
      if (m === null) continue;
      let captures = NO_CAPTURES;
      const groups = m.groups;
      if (groups !== undefined) {
        captures = {};
        for (const k in groups) captures[k] = safeDecode(groups[k] as string);
      }
      return new Match(ep, captures, path, q < 0 ? '' : pathAndQuery.slice(q + 1));
    }
  }
  return undefined;
}

/**
 * An EndpointMatch whose query is parsed only when a source asks for it
 * (most endpoints never do; URLSearchParams costs a microsecond per request).
 */
class Match implements EndpointMatch {
  private q: URLSearchParams | undefined;

  constructor(
    readonly endpoint: Endpoint,
    readonly captures: Record<string, string>,
    readonly path: string,
    private readonly rawQuery: string,
  ) {}

  get query(): URLSearchParams {
    this.q ??= new URLSearchParams(this.rawQuery);
    return this.q;
  }
}

export function parseWebIm(raw: unknown, file: string | null): WebImCatalog {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): expected a mapping with "apps"']);
  }
  const r = webImSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(file, formatIssues(r.error.issues, raw, undefined, webImSchema));
  const problems: string[] = [];
  for (const [app, a] of Object.entries(r.data.apps)) {
    a.endpoints.forEach((e, i) => {
      e.paths.forEach((p, j) => {
        try {
          compilePathPattern(p);
        } catch (err) {
          problems.push(`apps.${app}.endpoints[${i}].paths[${j}]: ${(err as Error).message}`);
        }
      });
    });
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  return new WebImCatalog(r.data, file);
}

export function loadWebImFile(path: string): WebImCatalog {
  return parseWebIm(parseYaml(readSmallFile(path, 'web IM file'), path), path);
}

/** conf/webim.yaml shipped with the package (dist/src/... or src/... both find it). */
export function embeddedWebImPath(): string {
  const candidates = [resolve(__dirname, '../../conf/webim.yaml'), resolve(__dirname, '../../../conf/webim.yaml')];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/**
 * The web IM file for a config: webim.yaml beside the config file when it
 * exists, else the shipped conf/webim.yaml. (A config key for it needs a
 * schema change in src/config, which this slice does not own.)
 */
export function resolveWebImPath(configFile: string | null): string {
  if (configFile) {
    const beside = resolve(dirname(configFile), 'webim.yaml');
    if (existsSync(beside)) return beside;
  }
  return embeddedWebImPath();
}
