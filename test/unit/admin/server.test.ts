// The admin port with the UI on, over real HTTP: what an unauthenticated
// caller gets (401, a challenge, nothing else), the open scraper endpoints,
// the security headers, input validation (clear 400s, nothing reaches the
// store) and the archived-file download.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pino from 'pino';
import { createAdminServer, type AdminServer } from '../../../src/admin/server';
import { Metrics } from '../../../src/admin/metrics';
import { Readiness } from '../../../src/admin/readiness';
import { AdminAuth, resolveAdminAuth } from '../../../src/admin/auth';
import { parsePolicy } from '../../../src/policy/load';
import { PolicyStore } from '../../../src/policy/store';
import { eventRow, FakeStore } from './fake-store';

const TOKEN = 'unit-test-token-0123456789';
const CONTENT = Buffer.from([0, 1, 2, 255, 0x3c, 0x73, 0x63, 0x72, 0x69, 0x70, 0x74, 0x3e]);
const SHA = crypto.createHash('sha256').update(CONTENT).digest('hex');
const HOSTILE_NAME = '../../etc/"pass\r\nwd"\u202e<img src=x>\u0000.exe';

let dir: string;
let server: AdminServer;
let port: number;
let store: FakeStore;

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(p: string, auth: string | null = `Bearer ${TOKEN}`, method = 'GET'): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, agent: false, headers: auth ? { Authorization: auth } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}
const json = (r: Res): Record<string, unknown> => JSON.parse(r.body.toString()) as Record<string, unknown>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgate-admin-srv-'));
  fs.mkdirSync(path.join(dir, 'files', SHA.slice(0, 2)), { recursive: true });
  fs.writeFileSync(path.join(dir, 'files', SHA.slice(0, 2), SHA), CONTENT);
  store = new FakeStore({
    events: [eventRow({ seq: 1, text: 'first' }), eventRow({ seq: 2, text: 'second' }), eventRow({ seq: 3, text: 'third', action: 'block', rule: 'r1' })],
    archived: [
      { sha256: SHA, name: HOSTILE_NAME, size: CONTENT.length, first_seen: 1, stored_path: `files/${SHA.slice(0, 2)}/${SHA}` },
      { sha256: 'b'.repeat(64), name: 'meta-only.pdf', size: 10, first_seen: 1, stored_path: null },
      { sha256: 'c'.repeat(64), name: 'escape', size: 10, first_seen: 1, stored_path: '../../etc/passwd' },
      { sha256: 'd'.repeat(64), name: 'gone', size: 10, first_seen: 1, stored_path: `files/dd/${'d'.repeat(64)}` },
    ],
  });
  const policy = new PolicyStore(parsePolicy({ default: 'allow', rules: [{ id: 'no-falcon', description: 'project names', when: { kind: 'message', text_matches: ['falcon'] }, then: 'block' }] }, '/etc/imgate/policy.yaml'));
  server = createAdminServer({
    metrics: new Metrics({ defaultMetrics: false }),
    readiness: new Readiness(),
    logger: pino({ level: 'silent' }),
    ui: {
      auth: new AdminAuth(resolveAdminAuth({ token: TOKEN, basic: { user: 'officer', password_sha256: crypto.createHash('sha256').update('pw').digest('hex') }, realm: 'imgate admin' }, { configDir: dir, dataDir: dir })),
      api: { store: () => store, dataDir: () => dir, policy },
    },
  });
  port = (await server.listen(0, '127.0.0.1')).port;
});

afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('unauthenticated: every page, asset and API path is 401 with a challenge and no data, and the store is never asked', async () => {
  const before = store.calls.length;
  const paths = ['/', '/index.html', '/ui/app.js', '/ui/chart.umd.min.js', '/api/summary', '/api/events?q=first', '/api/live', '/api/policy', `/api/files/${SHA}`, '/api/nope', '/nope', '/api/events?limit=999999'];
  for (const p of paths) {
    for (const auth of [null, 'Bearer wrong', `Basic ${Buffer.from('officer:wrong').toString('base64')}`]) {
      const r = await get(p, auth);
      expect([p, r.status]).toEqual([p, 401]);
      expect(r.headers['www-authenticate']).toBe('Basic realm="imgate admin", charset="UTF-8", Bearer realm="imgate admin"');
      expect(r.body.toString()).toBe('authentication required\n');
      expect(r.headers['content-disposition']).toBeUndefined();
    }
  }
  expect((await get('/api/summary', null, 'POST')).status).toBe(401);
  expect(store.calls.length).toBe(before);
});

test('health, readiness and metrics stay open for scrapers', async () => {
  expect((await get('/healthz', null)).status).toBe(200);
  expect((await get('/readyz', null)).status).toBe(503);
  expect((await get('/metrics', null)).body.toString()).toContain('imgate_connections_total');
});

test('pages: served with a strict CSP (no inline script), nosniff, no-store; Basic user and token-as-password both work', async () => {
  for (const auth of [`Bearer ${TOKEN}`, `Basic ${Buffer.from('officer:pw').toString('base64')}`, `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]) {
    const r = await get('/', auth);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body.toString()).toContain('<canvas id="chart-protocol">');
  }
  const r = await get('/');
  expect(r.headers['content-security-policy']).toContain("script-src 'self'");
  expect(r.headers['content-security-policy']).toContain("default-src 'none'");
  expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.body.toString()).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
  const chart = await get('/ui/chart.umd.min.js');
  expect(chart.status).toBe(200);
  expect(chart.body.toString()).toContain('Chart');
  expect((await get('/ui/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect((await get('/api/summary', `Bearer ${TOKEN}`, 'DELETE')).status).toBe(405);
});

test('bad input: clear 400s naming the parameter, nothing reaches the store', async () => {
  const before = store.calls.length;
  const cases: Array<[string, RegExp]> = [
    ['/api/events?limit=501', /limit: expected an integer 1-500/],
    ['/api/events?limit=-1', /limit/],
    ['/api/events?since=yesterday', /since: bad time "yesterday"/],
    ['/api/events?since=2026-01-02&until=2026-01-01', /since is after until/],
    ['/api/events?kind=chat', /kind/],
    ['/api/events?action=drop', /action/],
    ['/api/events?bogus=1', /Unrecognized key/],
    ['/api/events?q=a&q=b', /q: given more than once/],
    [`/api/events?q=${'x'.repeat(600)}`, /q: expected at most 512/],
    ['/api/series?since=2020-01-01&until=2026-01-01', /window longer than 400 days/],
    ['/api/series?since=30d&bucket=60000', /more than 2000 buckets/],
    ['/api/series?bucket=1000', /bucket/],
    ['/api/series?by=text', /by/],
    ['/api/transcript?account=alice', /peer: Required/],
    ['/api/live?afterSeq=abc', /afterSeq/],
    ['/api/files/not-a-sha', /sha256: expected 64 lower-case hex/],
  ];
  for (const [p, re] of cases) {
    const r = await get(p);
    expect([p, r.status]).toEqual([p, 400]);
    expect([p, String(json(r).error)]).toEqual([p, expect.stringMatching(re)]);
    expect(r.headers['cache-control']).toBe('no-store');
  }
  expect(store.calls.length).toBe(before);
  expect((await get('/api/nothing-here')).status).toBe(404);
});

test('queries reach the store validated and bounded; FTS syntax is passed as plain text', async () => {
  store.calls.length = 0;
  await get('/api/events?q=%22a%22%20OR%20NEAR(b*)&user=alice&action=block&since=2h');
  const q = store.calls[0]?.q as Record<string, unknown>;
  expect(q).toMatchObject({ text: '"a" OR NEAR(b*)', user: 'alice', action: 'block', limit: 100 });
  expect(typeof q.since).toBe('number');
  await get('/api/series?by=user');
  const s = store.calls[1]?.q as { since: number; until: number; bucketMs: number; by: string };
  expect(s.by).toBe('user');
  expect(s.until - s.since).toBe(86_400_000);
  expect(s.bucketMs).toBe(1_800_000);
  await get('/api/transcript?account=alice&peer=%23x');
  expect(store.calls[2]?.q).toEqual({ account: 'alice', peer: '#x', limit: 500, order: 'oldest' });
});

test('live: first poll gives the newest events oldest first, then only what came after', async () => {
  const first = json(await get('/api/live?limit=2'));
  expect((first.events as Array<{ text: string }>).map((e) => e.text)).toEqual(['second', 'third']);
  expect(first.lastSeq).toBe(3);
  const next = json(await get('/api/live?afterSeq=1'));
  expect((next.events as Array<{ text: string }>).map((e) => e.text)).toEqual(['second', 'third']);
  const none = json(await get('/api/live?afterSeq=3'));
  expect(none).toEqual({ events: [], lastSeq: 3 });
});

test('policy in force: rules, default, source and ISTag', async () => {
  const p = json(await get('/api/policy'));
  expect(p).toMatchObject({ file: '/etc/imgate/policy.yaml', default: 'allow', rules: [{ id: 'no-falcon', then: 'block', description: 'project names' }] });
  expect(String(p.istag)).toMatch(/^"?[\w.-]+"?$/);
});

test('download: archived bytes streamed with a safe Content-Disposition; 404 when not archived or outside the archive', async () => {
  const r = await get(`/api/files/${SHA}`);
  expect(r.status).toBe(200);
  expect(r.body.equals(CONTENT)).toBe(true);
  expect(r.headers['content-type']).toBe('application/octet-stream');
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  const cd = String(r.headers['content-disposition']);
  expect(cd).toMatch(/^attachment; filename="[A-Za-z0-9._ -]+"; filename\*=UTF-8''[A-Za-z0-9%._~!-]+$/);
  expect(cd).not.toMatch(/[\r\n\u0000]|\.\.\//);
  const ascii = /filename="([^"]*)"/.exec(cd)?.[1] ?? '';
  expect(ascii.startsWith('.')).toBe(false);
  expect(decodeURIComponent(/filename\*=UTF-8''(.*)$/.exec(cd)?.[1] ?? '')).toBe('__.._etc__passwd__img src=x_.exe');
  expect((await get(`/api/files/${'b'.repeat(64)}`)).status).toBe(404);
  expect((await get(`/api/files/${'c'.repeat(64)}`)).status).toBe(404);
  expect((await get(`/api/files/${'d'.repeat(64)}`)).status).toBe(404);
  expect((await get(`/api/files/${'e'.repeat(64)}`)).status).toBe(404);
});
