// Drives the real ICAP services (src/icap-services + src/web) with an
// in-memory IcapRequest whose body is a stream, and captures the log lines.
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import type { HeaderList, HttpHead, IcapRequest, IcapService, IcapVerdict } from '../../../icap/types';
import { Metrics } from '../../../src/admin/metrics';
import type { AvService } from '../../../src/av/types';
import { createIcapServices } from '../../../src/icap-services';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { loadWebImFile, WebImInspector, type WebImCatalog } from '../../../src/web';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const catalog: WebImCatalog = loadWebImFile(path.join(REPO, 'conf', 'webim.yaml'));

export function head(startLine: string, headers: HeaderList): HttpHead {
  return { startLine, headers, get: (name) => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1] };
}

export interface Harness {
  reqmod: IcapService;
  respmod: IcapService;
  lines: Array<Record<string, unknown>>;
  policy: PolicyStore;
}

export function harness(policyDoc: unknown, opts: { cat?: WebImCatalog; av?: AvService } = {}): Harness {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const policy = new PolicyStore(parsePolicy(policyDoc, null));
  const metrics = new Metrics({ defaultMetrics: false });
  const cat = opts.cat ?? catalog;
  const inspector = new WebImInspector({ policy, metrics, logger, catalog: () => cat, replayBufferBytes: 2.5 * 1024 * 1024, av: () => opts.av });
  const [reqmod, respmod] = createIcapServices({ reqmod: '/reqmod', respmod: '/respmod' }, { policy, metrics, logger, webim: { catalog: () => cat, inspector } }) as [IcapService, IcapService];
  return { reqmod, respmod, lines, policy };
}

export interface ReqOpts {
  method?: string;
  url: string;
  headers?: HeaderList;
  body?: Buffer | string;
  /** Deliver the body in pieces of this size. */
  chunk?: number;
  /** Omit the automatic Content-Length. */
  noLength?: boolean;
  user?: string;
}

function bodyStream(b: Buffer, chunk: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

export function reqmodRequest(o: ReqOpts): IcapRequest {
  const body = o.body === undefined ? null : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body);
  const host = /^https?:\/\/([^/]+)/.exec(o.url)?.[1] ?? 'x';
  const hs: HeaderList = [['Host', host], ...(o.headers ?? [])];
  if (body !== null && !o.noLength && !hs.some(([n]) => n.toLowerCase() === 'content-length')) hs.push(['Content-Length', String(body.length)]);
  return {
    id: 'c1-1', connectionId: 'c1', method: 'REQMOD', uri: 'icap://127.0.0.1/reqmod', servicePath: '/reqmod', query: '',
    headers: new Map(), httpRequest: head(`${o.method ?? 'POST'} ${o.url} HTTP/1.1`, hs),
    hasBody: body !== null, body: body === null ? null : bodyStream(body, o.chunk ?? 65536),
    preview: null, allow204: true,
    client: { ip: '10.0.0.7', user: o.user ?? 'alice', groups: ['staff'] }, remoteAddress: '127.0.0.1', remotePort: 1,
  };
}

export function respmodRequest(o: ReqOpts & { status?: string }): IcapRequest {
  const body = Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body ?? '');
  const host = /^https?:\/\/([^/]+)/.exec(o.url)?.[1] ?? 'x';
  const hs: HeaderList = [...(o.headers ?? [])];
  if (!o.noLength) hs.push(['Content-Length', String(body.length)]);
  return {
    id: 'c1-2', connectionId: 'c1', method: 'RESPMOD', uri: 'icap://127.0.0.1/respmod', servicePath: '/respmod', query: '',
    headers: new Map(), httpRequest: head(`${o.method ?? 'GET'} ${o.url} HTTP/1.1`, [['Host', host]]),
    httpResponse: head(o.status ?? 'HTTP/1.1 200 OK', hs),
    hasBody: true, body: bodyStream(body, o.chunk ?? 65536),
    preview: null, allow204: true,
    client: { ip: '10.0.0.7', user: o.user ?? 'alice', groups: [] }, remoteAddress: '127.0.0.1', remotePort: 1,
  };
}

export function imEvents(h: Harness): Array<Record<string, unknown>> {
  return h.lines.filter((l) => l.msg === 'im event');
}

export function blockJson(v: IcapVerdict): { status: string; json: Record<string, unknown> } {
  if (v.kind !== 'block') throw new Error(`expected block, got ${v.kind}`);
  return { status: v.response.startLine, json: JSON.parse(v.body?.toString() ?? 'null') as Record<string, unknown> };
}

export function modifiedBody(v: IcapVerdict): Buffer {
  if (v.kind !== 'modify' || !Buffer.isBuffer(v.body)) throw new Error(`expected modify with a buffer, got ${v.kind}`);
  return v.body;
}
