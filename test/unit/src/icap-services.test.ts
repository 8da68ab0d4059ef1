import { Writable } from 'node:stream';
import pino from 'pino';
import type { HeaderList, HttpHead, IcapRequest } from '../../../icap/types';
import { Metrics } from '../../../src/admin/metrics';
import { createIcapServices, parseRequestLine, prefersJson } from '../../../src/icap-services';
import { parsePolicy, PolicyStore } from '../../../src/policy';

const lines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }),
);

function head(startLine: string, headers: HeaderList): HttpHead {
  return {
    startLine,
    headers,
    get: (name) => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1],
  };
}

function request(over: Partial<IcapRequest> = {}): IcapRequest {
  return {
    id: 'c1-1',
    connectionId: 'c1',
    method: 'REQMOD',
    uri: 'icap://127.0.0.1/reqmod',
    servicePath: '/reqmod',
    query: '',
    headers: new Map(),
    httpRequest: head('GET http://chat.example.test/api/send HTTP/1.1', [['Host', 'chat.example.test']]),
    hasBody: false,
    body: null,
    preview: null,
    allow204: true,
    client: { ip: '::ffff:10.0.0.7', user: 'alice', groups: ['sales'] },
    remoteAddress: '127.0.0.1',
    remotePort: 5000,
    ...over,
  };
}

const policy = new PolicyStore(
  parsePolicy(
    {
      default: 'allow',
      rules: [
        { id: 'sales-no-chat', when: { kind: 'http', group: 'sales', host: 'chat.*' }, then: 'block' },
        { id: 'log-uploads', when: { url_matches: '(?i)/UPLOAD' }, then: 'log' },
        { id: 'redact-x', when: { host: 'x.test' }, then: 'redact' },
      ],
    },
    null,
  ),
);
const metrics = new Metrics({ defaultMetrics: false });
const [reqmod, respmod] = createIcapServices({ reqmod: '/reqmod', respmod: '/respmod' }, { policy, metrics, logger }) as [
  ReturnType<typeof createIcapServices>[number],
  ReturnType<typeof createIcapServices>[number],
];

describe('ICAP services', () => {
  test('paths, methods and OPTIONS descriptions', () => {
    expect([reqmod.path, reqmod.method, reqmod.description]).toEqual(['/reqmod', 'REQMOD', 'imgate REQMOD']);
    expect([respmod.path, respmod.method]).toEqual(['/respmod', 'RESPMOD']);
  });

  test('REQMOD block returns an HTML 403 naming imgate, the rule and a reference', async () => {
    const v = await reqmod.handle(request());
    if (v.kind !== 'block') throw new Error(`expected block, got ${v.kind}`);
    expect(v.response.startLine).toBe('HTTP/1.1 403 Forbidden');
    const h = new Map(v.response.headers.map(([k, val]) => [k.toLowerCase(), val]));
    expect(h.get('content-type')).toMatch(/^text\/html/);
    expect(Number(h.get('content-length'))).toBe(v.body?.length);
    const html = v.body?.toString() ?? '';
    expect(html).toContain('imgate');
    expect(html).toContain('sales-no-chat');
    const ref = h.get('x-imgate-reference') as string;
    expect(ref).toMatch(/\S+/);
    expect(html).toContain(ref);
    const log = lines.find((l) => l.msg === 'blocked' && l.reference === ref);
    expect(log).toMatchObject({ user: 'alice', client: '10.0.0.7', url: 'http://chat.example.test/api/send', rule: 'sales-no-chat', method: 'REQMOD' });
  });

  test('JSON block body when Accept prefers application/json', async () => {
    const v = await reqmod.handle(
      request({ httpRequest: head('POST /api/send HTTP/1.1', [['Host', 'chat.example.test'], ['Accept', 'application/json, text/plain;q=0.5']]) }),
    );
    if (v.kind !== 'block') throw new Error('expected block');
    const body = JSON.parse(v.body?.toString() ?? '{}') as Record<string, string>;
    expect(body.error).toBe('blocked by imgate');
    expect(body.rule).toBe('sales-no-chat');
    expect(body.reference).toMatch(/\S+/);
  });

  test('RESPMOD block replaces the response', async () => {
    const v = await respmod.handle(request({ method: 'RESPMOD', servicePath: '/respmod', httpResponse: head('HTTP/1.1 200 OK', []), hasBody: true }));
    expect(v.kind).toBe('block');
  });

  test('allow, log and redact all answer allow without touching the body', async () => {
    const body = { read: () => { throw new Error('body must not be read'); } } as unknown as IcapRequest['body'];
    const other = { ip: '10.0.0.8', user: 'bob', groups: ['eng'] };
    expect(await reqmod.handle(request({ client: other, hasBody: true, body }))).toEqual({ kind: 'allow' });
    expect(await reqmod.handle(request({ client: other, httpRequest: head('PUT http://files.test/Upload HTTP/1.1', []) }))).toEqual({ kind: 'allow' });
    expect(lines.some((l) => l.msg === 'logged' && l.rule === 'log-uploads')).toBe(true);
    expect(await reqmod.handle(request({ client: other, httpRequest: head('GET http://x.test/ HTTP/1.1', []) }))).toEqual({ kind: 'allow' });
    expect(lines.some((l) => l.msg === 'allowed')).toBe(false);
  });

  test('verdicts are counted', async () => {
    const all = await metrics.registry.getSingleMetric('imgate_policy_verdicts_total')?.get();
    const byAction = Object.fromEntries((all?.values ?? []).map((v) => [v.labels.action, v.value]));
    expect(byAction.block).toBe(3);
    expect(byAction.log).toBe(1);
    expect(byAction.redact).toBe(1);
    expect(byAction.allow).toBe(1);
  });
});

describe('request line parsing', () => {
  test('absolute, origin-form with Host, CONNECT, IPv6', () => {
    expect(parseRequestLine(head('GET http://A.test:8080/p?q HTTP/1.1', []))).toEqual({ method: 'GET', url: 'http://A.test:8080/p?q', host: 'a.test', port: 8080 });
    expect(parseRequestLine(head('GET /p HTTP/1.1', [['Host', 'b.test']]))).toEqual({ method: 'GET', url: 'http://b.test/p', host: 'b.test' });
    expect(parseRequestLine(head('CONNECT c.test:443 HTTP/1.1', []))).toEqual({ method: 'CONNECT', url: 'c.test:443', host: 'c.test', port: 443 });
    expect(parseRequestLine(head('GET http://[::1]:81/ HTTP/1.1', []))).toEqual({ method: 'GET', url: 'http://[::1]:81/', host: '::1', port: 81 });
    expect(parseRequestLine(head('garbage', []))).toEqual({ method: 'garbage', url: '' });
  });

  test('Accept negotiation', () => {
    expect(prefersJson('application/json')).toBe(true);
    expect(prefersJson('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe(false);
    expect(prefersJson('*/*')).toBe(false);
    expect(prefersJson(undefined)).toBe(false);
    expect(prefersJson('application/json;q=0.5, text/html;q=0.4')).toBe(true);
    expect(prefersJson('application/*')).toBe(true);
  });
});
