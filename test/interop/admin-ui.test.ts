/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The admin web UI in a real browser (Debian's headless Chromium through
// puppeteer-core) over a real gateway from dist/ with the embedded-default
// credentials (a token generated into data_dir). The traffic is real: an IRC
// session through the SOCKS5 door (ngircd, irc-framework) with a hostile
// `<img onerror>` message, a blocked and a redacted message, and web IM
// (a Matrix message and a Matrix media upload) through Squid and the ICAP
// door. What a compliance officer checks: the charts count what happened, the
// live view shows a message sent after the page opened, the transcript has
// the right accounts, peers and verdicts, hostile text is shown as text, the
// archived upload downloads byte-identical, the policy page lists the rules;
// and without credentials nothing at all is shown.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Page } from 'puppeteer-core';
import { Gateway, IMGATE_BIN } from './helpers/gateway';
import { IrcClient } from './helpers/irc-client';
import { Ngircd } from './helpers/ngircd';
import { sleep } from './helpers/ports';
import { Squid } from './helpers/squid';
import { sha256, startOrigin, type Origin } from './helpers/origin';
import { curl } from './helpers/curl';
import { artifactDir, HeadlessChromium } from './helpers/browser';

const POLICY = `default: allow
rules:
  - id: no-falcon
    description: project code names stay inside
    when: { kind: message, text_matches: ["(?i)project\\\\s+falcon"] }
    then: block
  - id: mask-cards
    when: { kind: message, text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b"] }
    then: redact
`;
const CHANNEL = '#ui';
const HOSTILE = `look <img src=x onerror="document.title='pwned';window.__xss=1"><script>window.__xss=2</script> & "quotes"`;
const UPLOAD = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff))]);
const UPLOAD_NAME = 'q3 report <b>final</b>.pdf';

type Row = Record<string, unknown>;

let ircd: Ngircd;
let gw: Gateway;
let squid: Squid;
let origin: Origin;
let alice: IrcClient;
let bob: IrcClient;
let chromium: HeadlessChromium;
let page: Page;
let token: string;
const shots = artifactDir('admin-ui');

function apiGet(p: string, auth: string | null): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: gw.ports.admin, path: p, agent: false, headers: auth ? { Authorization: auth } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}
const api = async (p: string): Promise<Row> => JSON.parse((await apiGet(p, `Bearer ${token}`)).body.toString()) as Row;

/** Every stored event, read by the CLI from the store itself (an independent path from the UI's API). */
function storedEvents(): Row[] {
  const r = spawnSync(process.execPath, [IMGATE_BIN, 'search', '', '--json', '--limit', '1000', '--config', gw.configPath], { encoding: 'utf8', timeout: 30000 });
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

async function show(hash: string, shot: string): Promise<void> {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  const name = hash.replace(/^#/, '').split('?')[0] as string;
  await page.waitForFunction((n) => document.body.dataset.page === n, { timeout: 10000 }, name);
  if (shot) await page.screenshot({ path: path.join(shots, `${shot}.png`), fullPage: true });
}

/** The matrix test catalogue: the origin (127.0.0.1) plays the homeserver. */
function testCatalogue(): string {
  const shipped = fs.readFileSync(path.join(__dirname, '..', '..', 'conf', 'webim.yaml'), 'utf8');
  return shipped.replace('hosts: [matrix.org, "*.matrix.org"]', 'hosts: ["127.0.0.1"]');
}

beforeAll(async () => {
  ircd = await Ngircd.start();
  origin = await startOrigin();
  gw = await Gateway.start({
    name: 'admin-ui',
    policy: POLICY,
    users: [{ name: 'alice', password: 'alice-pw' }],
    config: { socks5: { auth: 'userpass' }, shutdown: { drain_timeout_ms: 3000 }, audit: { flush_interval_ms: 100 } },
  });
  const from = gw.logs().length;
  fs.writeFileSync(path.join(gw.dir, 'webim.yaml'), testCatalogue());
  gw.reload();
  expect((await gw.waitLog((l) => l.msg === 'reloaded' || String(l.msg).startsWith('reload failed'), 10000, from))?.msg).toBe('reloaded');
  squid = await Squid.start({ icapPort: gw.ports.icap, name: 'squid-admin-ui' });
  chromium = await HeadlessChromium.launch();
}, 90000);

afterAll(async () => {
  alice?.quit();
  bob?.quit();
  await sleep(100);
  await chromium?.close();
  await Promise.allSettled([squid?.cleanup()]);
  await gw?.cleanup();
  await ircd?.stop();
  await origin?.close();
}, 60000);

test('embedded default: a random token in data_dir (0600), its path logged', async () => {
  const file = path.join(gw.dir, 'var', 'admin-token');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  token = fs.readFileSync(file, 'utf8').trim();
  expect(token.length).toBeGreaterThanOrEqual(40);
  const line = await gw.waitLog((l) => typeof l.token_file === 'string');
  expect(line).toMatchObject({ token_file: file, url: `http://127.0.0.1:${gw.ports.admin}/` });
  expect(JSON.stringify(gw.logs())).not.toContain(token);
});

test('real traffic: IRC through the SOCKS5 door and web IM through Squid + ICAP reach the store', async () => {
  bob = await IrcClient.connect({ port: ircd.port, nick: 'bob' });
  alice = await IrcClient.connect({ port: ircd.port, nick: 'alice', socks: { host: '127.0.0.1', port: gw.ports.socks5, user: 'alice', pass: 'alice-pw' } as { host: string; port: number } });
  alice.join(CHANNEL);
  bob.join(CHANNEL);
  expect(await alice.waitLine((l) => l.includes(` 366 alice ${CHANNEL} `))).not.toBeNull();
  expect(await bob.waitLine((l) => l.includes(` 366 bob ${CHANNEL} `))).not.toBeNull();
  alice.say(CHANNEL, 'hello bob, numbers are in');
  expect(await bob.waitLine((l) => l.endsWith('hello bob, numbers are in'))).not.toBeNull();
  alice.say(CHANNEL, HOSTILE);
  expect(await bob.waitLine((l) => l.includes('onerror'))).not.toBeNull();
  alice.say(CHANNEL, 'the Project Falcon deck is ready');
  expect(await alice.waitLine((l) => l.includes('no-falcon'))).not.toBeNull();
  alice.say(CHANNEL, 'card 4111 1111 1111 1111 ok');
  expect(await bob.waitLine((l) => l.includes('card '))).toMatch(/card \*+/);
  bob.say(CHANNEL, 'thanks alice');
  expect(await alice.waitLine((l) => l.endsWith('thanks alice'))).not.toBeNull();

  const msg = JSON.stringify({ msgtype: 'm.text', body: 'matrix hello from the web' });
  const put = path.join(gw.dir, 'matrix-msg.json');
  fs.writeFileSync(put, msg);
  const r1 = await curl(['-x', squid.proxyUrl, '-X', 'PUT', '-H', 'Content-Type: application/json', '--data-binary', `@${put}`, `${origin.base}/_matrix/client/v3/rooms/!room%3A127.0.0.1/send/m.room.message/t1`]);
  expect(r1.status).toBe(200);
  const up = path.join(gw.dir, 'upload.bin');
  fs.writeFileSync(up, UPLOAD);
  const r2 = await curl(['-x', squid.proxyUrl, '-X', 'POST', '-H', 'Content-Type: application/pdf', '--data-binary', `@${up}`, `${origin.base}/_matrix/media/v3/upload?filename=${encodeURIComponent(UPLOAD_NAME)}`]);
  expect(r2.status).toBe(200);
  expect(JSON.parse(r2.body.toString())).toEqual({ length: UPLOAD.length, sha256: sha256(UPLOAD) });

  await until('every event stored', async () => {
    const rows = storedEvents();
    const texts = rows.map((r) => r.text);
    return texts.includes('thanks alice') && texts.includes('matrix hello from the web') && rows.some((r) => r.file_sha256 === sha256(UPLOAD));
  });
});

test('unauthenticated page and API requests: 401 with a challenge and no data', async () => {
  for (const p of ['/', '/ui/app.js', '/api/summary', '/api/events?q=alice', '/api/live', '/api/policy', '/api/conversations', `/api/files/${sha256(UPLOAD)}`]) {
    for (const auth of [null, 'Bearer nope', `Basic ${Buffer.from('admin:nope').toString('base64')}`]) {
      const r = await apiGet(p, auth);
      expect([p, r.status]).toEqual([p, 401]);
      expect(r.headers['www-authenticate']).toMatch(/^Basic realm="imgate admin"/);
      expect(r.body.toString()).toBe('authentication required\n');
    }
  }
  // The same in the browser: a fresh context with no credentials. Headless
  // Chromium cancels the login prompt (the navigation fails with
  // ERR_INVALID_AUTH_CREDENTIALS); what the server sent is the 401 and nothing else.
  const ctx = await chromium.browser.createBrowserContext();
  try {
    const anon = await ctx.newPage();
    for (const p of ['/', '/api/summary', `/api/files/${sha256(UPLOAD)}`]) {
      const seen: Array<{ status: number; body: string; auth: string | undefined }> = [];
      const onResponse = (r: import('puppeteer-core').HTTPResponse): void => {
        void r.text().then(
          (body) => seen.push({ status: r.status(), body, auth: r.headers()['www-authenticate'] }),
          () => seen.push({ status: r.status(), body: '', auth: r.headers()['www-authenticate'] }),
        );
      };
      anon.on('response', onResponse);
      const err = await anon.goto(`http://127.0.0.1:${gw.ports.admin}${p}`).then(() => null, (e: Error) => e.message);
      await until('the 401 response', async () => seen.length > 0);
      anon.off('response', onResponse);
      expect(err ?? '').toMatch(/ERR_INVALID_AUTH_CREDENTIALS|^$/);
      expect(seen[0]).toMatchObject({ status: 401, auth: expect.stringMatching(/^Basic realm="imgate admin"/) });
      expect(seen[0]?.body ?? '').not.toMatch(/alice|falcon|matrix|\d{2,}/i);
    }
    await anon.screenshot({ path: path.join(shots, '0-unauthenticated.png') });
  } finally {
    await ctx.close();
  }
});

test('log in; the dashboard charts count what the store holds (per protocol, per user, verdicts)', async () => {
  page = await chromium.browser.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused/.test(m.text())) violations.push(m.text());
  });
  page.on('dialog', (d) => {
    violations.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.authenticate({ username: 'officer', password: token });
  const res = await page.goto(`http://127.0.0.1:${gw.ports.admin}/#dashboard`);
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
  await page.waitForFunction(() => document.body.dataset.dashboard === 'ready', { timeout: 15000 });
  await page.screenshot({ path: path.join(shots, '1-dashboard.png'), fullPage: true });

  const charts = await page.evaluate(() => {
    const C = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: Array<{ label: string; data: number[] }> } } | undefined } }).Chart;
    const sums = (id: string): Record<string, number> => {
      const chart = C.getChart(document.getElementById(id) as HTMLCanvasElement);
      const out: Record<string, number> = {};
      for (const d of chart?.data.datasets ?? []) out[d.label] = d.data.reduce((a, b) => a + b, 0);
      return out;
    };
    return { protocol: sums('chart-protocol'), user: sums('chart-user'), action: sums('chart-action'), messages: document.getElementById('total-messages')?.textContent };
  });
  const rows = storedEvents();
  const count = (pred: (r: Row) => boolean): number => rows.filter(pred).length;
  expect(charts.protocol.irc).toBe(count((r) => r.protocol === 'irc'));
  expect(charts.protocol.irc).toBeGreaterThanOrEqual(6);
  // The protocol chart splits by app: web IM shows as e.g. http/matrix, not http.
  const web = rows.find((r) => r.app === 'matrix') as Row;
  expect(charts.protocol[`${web.protocol}/matrix`]).toBe(count((r) => r.protocol === web.protocol && r.app === 'matrix'));
  expect(charts.user.alice).toBe(count((r) => r.user === 'alice'));
  expect(charts.action.block).toBe(1);
  expect(charts.action.redact).toBe(1);
  expect(Object.values(charts.action).reduce((a, b) => a + b, 0)).toBe(rows.length);
  expect(Number(charts.messages)).toBe(count((r) => r.kind === 'message'));
  expect(violations).toEqual([]);
});

test('live view: a message sent after the page opened appears', async () => {
  await show('#live', '');
  await page.waitForFunction(() => document.body.dataset.liveSeq !== undefined, { timeout: 10000 });
  const marker = `live marker ${Date.now()}`;
  alice.say(CHANNEL, marker);
  expect(await bob.waitLine((l) => l.endsWith(marker))).not.toBeNull();
  await page.waitForFunction(
    (m) => [...document.querySelectorAll('#live-table td[data-col="text"]')].some((td) => td.textContent === m),
    { timeout: 10000 },
    marker,
  );
  const row = await page.evaluate((m) => {
    const td = [...document.querySelectorAll('#live-table td[data-col="text"]')].find((t) => t.textContent === m);
    const cells = [...(td?.parentElement?.children ?? [])] as HTMLElement[];
    return Object.fromEntries(cells.map((c) => [c.dataset.col, c.textContent]));
  }, marker);
  expect(row).toMatchObject({ user: 'alice', protocol: 'irc', direction: 'out', account: 'alice', peer: CHANNEL, kind: 'message', action: 'allow', rule: 'default' });
  await page.screenshot({ path: path.join(shots, '2-live.png'), fullPage: true });
});

test('transcript of alice in #ui: oldest first, right verdicts, hostile text shown as text', async () => {
  await show('#conversations', '');
  const clicked = await page.evaluate((ch) => {
    const tr = [...document.querySelectorAll('#conv-table tbody tr')].find((r) => r.children[1]?.textContent === 'alice' && r.children[2]?.textContent === ch);
    (tr as HTMLElement | undefined)?.click();
    return tr !== undefined;
  }, CHANNEL);
  expect(clicked).toBe(true);
  await page.waitForFunction(() => document.body.dataset.page === 'conversations' && !document.getElementById('transcript')?.hidden, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('#transcript-table tbody tr').length > 0, { timeout: 10000 });
  await page.screenshot({ path: path.join(shots, '3-transcript.png'), fullPage: true });
  const lines = await page.evaluate(() =>
    [...document.querySelectorAll('#transcript-table tbody tr')].map((tr) => {
      const cells = [...tr.children] as HTMLElement[];
      return { ...Object.fromEntries(cells.map((c) => [c.dataset.col, c.textContent])), elements: cells.reduce((n, c) => n + c.children.length, 0) };
    }),
  );
  const messages = lines.filter((l) => l.kind === 'message');
  const texts = messages.map((l) => l.text);
  const order = ['hello bob, numbers are in', HOSTILE, 'the Project Falcon deck is ready', 'card 4111 1111 1111 1111 ok'];
  expect(texts.filter((t) => order.includes(t as string))).toEqual(order);
  expect(messages.find((l) => l.text === 'the Project Falcon deck is ready')).toMatchObject({ account: 'alice', peer: CHANNEL, direction: 'out', action: 'block', rule: 'no-falcon' });
  expect(messages.find((l) => l.text?.startsWith('card'))).toMatchObject({ action: 'redact', rule: 'mask-cards' });
  expect(messages.find((l) => l.text === 'hello bob, numbers are in')).toMatchObject({ action: 'allow', rule: 'default' });
  // The hostile message is a text node: no element was created from it and nothing ran.
  expect(lines.every((l) => l.elements === 0)).toBe(true);
  const dom = await page.evaluate(() => ({ imgs: document.querySelectorAll('main img').length, scripts: document.querySelectorAll('script').length, xss: (window as unknown as { __xss?: number }).__xss, title: document.title }));
  expect(dom).toEqual({ imgs: 0, scripts: 2, xss: undefined, title: 'imgate admin' });
});

test('file archive: the Matrix upload is listed and its download returns the archived bytes', async () => {
  await show('#files', '4-files');
  const want = sha256(UPLOAD);
  const row = await page.evaluate((sha) => {
    const a = document.querySelector(`#files-table a[data-sha256="${sha}"]`) as HTMLAnchorElement | null;
    const cells = a ? ([...(a.closest('tr')?.children ?? [])] as HTMLElement[]).map((c) => c.textContent) : [];
    return { href: a?.getAttribute('href'), cells };
  }, want);
  expect(row.href).toBe(`/api/files/${want}`);
  expect(row.cells).toContain(UPLOAD_NAME);
  expect(row.cells).toContain(String(UPLOAD.length));
  // Follow the link as the browser would (same origin, same credentials) and hash what arrives.
  const got = await page.evaluate(async (href) => {
    const r = await fetch(href as string);
    const buf = await r.arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', buf);
    return { status: r.status, disposition: r.headers.get('content-disposition'), type: r.headers.get('content-type'), sha: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, row.href);
  expect(got).toEqual({ status: 200, disposition: expect.stringMatching(/^attachment; filename="q3 report _b_final__b_.pdf"; filename\*=UTF-8''/), type: 'application/octet-stream', sha: want });
  const missing = await page.evaluate(async () => (await fetch(`/api/files/${'0'.repeat(64)}`)).status);
  expect(missing).toBe(404);
});

test('policy page: the rules in force, their source and ISTag', async () => {
  await show('#policy', '5-policy');
  const p = await page.evaluate(() => ({
    file: document.getElementById('policy-file')?.textContent,
    def: document.getElementById('policy-default')?.textContent,
    istag: document.getElementById('policy-istag')?.textContent,
    rules: [...document.querySelectorAll('#policy-rules tbody tr')].map((tr) => [tr.children[1]?.textContent, tr.children[3]?.textContent, tr.children[4]?.textContent]),
  }));
  expect(p).toMatchObject({ file: gw.policyPath, def: 'allow' });
  expect(p.rules).toEqual([['no-falcon', 'block', 'project code names stay inside'], ['mask-cards', 'redact', '']]);
  const fromApi = await api('/api/policy');
  expect(p.istag).toBe(fromApi.istag);
});

test('search page: text search finds the blocked message; FTS syntax is taken as text', async () => {
  await show('#search', '');
  await page.type('#search-form input[name="q"]', 'falcon');
  await page.click('#search-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelectorAll('#search-table tbody tr').length === 1, { timeout: 10000 });
  await page.screenshot({ path: path.join(shots, '6-search.png'), fullPage: true });
  const cells = await page.evaluate(() => [...document.querySelectorAll('#search-table tbody td')].map((td) => td.textContent));
  expect(cells).toEqual(expect.arrayContaining(['alice', 'the Project Falcon deck is ready', 'block', 'no-falcon']));
  // Quotes, OR, NEAR(), * and column filters are searched for as words, never run as FTS5 syntax.
  for (const q of ['"falcon" OR NEAR(x*)', 'text:falcon', 'falcon*', '(', '"']) {
    const res = await apiGet(`/api/events?q=${encodeURIComponent(q)}`, `Bearer ${token}`);
    expect([q, res.status]).toEqual([q, 200]);
    const events = (JSON.parse(res.body.toString()) as { events: Row[] }).events;
    expect(events.every((e) => String(e.text).toLowerCase().includes('falcon'))).toBe(true);
  }
});
