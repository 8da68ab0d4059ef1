// Squid 5.7 -> imgate over ICAP, as deployed: Squid is the forward proxy,
// imgate the REQMOD/RESPMOD service. What an operator checks: pages load
// unchanged, uploads and big downloads arrive intact, a block rule turns into
// the imgate block page, and per-user rules follow Squid's proxy auth.
import fs from 'node:fs';
import path from 'node:path';
import { Gateway } from './helpers/gateway';
import { Squid } from './helpers/squid';
import { bigBody, plainBody, sha256, startOrigin, type Origin } from './helpers/origin';
import { curl } from './helpers/curl';
import { metricValue } from './helpers/metrics';
import { sleep } from './helpers/ports';

const POLICY = `default: allow
rules:
  - id: block-forbidden
    when: { host: ["blocked.example"], url_matches: ["/forbidden"] }
    then: block
  - id: alice-no-private
    when: { user: [alice], url_matches: ["/private"] }
    then: block
`;

const ALICE = { name: 'alice', password: 'alice-pw' };
const BOB = { name: 'bob', password: 'bob-pw' };

let origin: Origin;
let gw: Gateway;
let squid: Squid;
let squidAuth: Squid;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await Gateway.start({ name: 'squid-icap', policy: POLICY });
  squid = await Squid.start({ icapPort: gw.ports.icap, name: 'squid-plain' });
  squidAuth = await Squid.start({ icapPort: gw.ports.icap, users: [ALICE, BOB], name: 'squid-auth' });
});

afterAll(async () => {
  await Promise.allSettled([squid?.cleanup(), squidAuth?.cleanup()]);
  await gw?.cleanup();
  await origin?.close();
});

/** Squid writes icap.log right after the transaction; give it a moment. */
async function waitFor(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

test('GET through Squid: OPTIONS, REQMOD and RESPMOD reach imgate and the page is unchanged', async () => {
  const r = await curl(['-x', squid.proxyUrl, `${origin.base}/hello?x=1`]);
  expect(r.code).toBe(0);
  expect(r.status).toBe(200);
  expect(r.body.toString()).toBe(plainBody('GET', '/hello?x=1'));
  // Squid's own ICAP log: one REQMOD and one RESPMOD to imgate, both answered.
  const reqmod = `REQMOD icap://127.0.0.1:${gw.ports.icap}/reqmod`;
  const respmod = `RESPMOD icap://127.0.0.1:${gw.ports.icap}/respmod`;
  expect(await waitFor(() => squid.icapLog().includes(reqmod) && squid.icapLog().includes(respmod))).toBe(true);
  expect(squid.icapLog()).not.toMatch(/ICAP_ERR|\/500 /);
  // imgate's side: Squid asked OPTIONS before adapting.
  const metrics = (await gw.admin('/metrics')).body;
  expect(metricValue(metrics, 'imgate_icap_requests_total', { method: 'OPTIONS' })).toBeGreaterThanOrEqual(2);
  expect(metricValue(metrics, 'imgate_icap_requests_total', { method: 'REQMOD' })).toBeGreaterThanOrEqual(1);
  expect(metricValue(metrics, 'imgate_icap_requests_total', { method: 'RESPMOD' })).toBeGreaterThanOrEqual(1);
});

test('POST larger than the 1024-byte preview arrives complete at the origin', async () => {
  const body = bigBody(3000);
  const file = path.join(gw.dir, 'post-3000.bin');
  fs.writeFileSync(file, body);
  const r = await curl(['-x', squid.proxyUrl, '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${file}`, `${origin.base}/upload`]);
  expect(r.code).toBe(0);
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body.toString())).toEqual({ length: 3000, sha256: sha256(body) });
});

test('5 MiB download through RESPMOD is byte-identical', async () => {
  const n = 5 * 1024 * 1024;
  const r = await curl(['-x', squid.proxyUrl, `${origin.base}/big/${n}`], 60000);
  expect(r.code).toBe(0);
  expect(r.status).toBe(200);
  expect(r.body.length).toBe(n);
  expect(sha256(r.body)).toBe(sha256(bigBody(n)));
});

test('a URL matching a block rule reaches curl as the imgate 403 block page naming the rule', async () => {
  const before = origin.seen.length;
  const r = await curl(['-x', squid.proxyUrl, 'http://blocked.example/forbidden/page']);
  expect(r.code).toBe(0);
  expect(r.status).toBe(403);
  const html = r.body.toString();
  expect(html).toMatch(/<html/i);
  expect(html).toMatch(/imgate/i);
  expect(html).toContain('block-forbidden');
  // Request satisfaction: nothing went upstream.
  expect(origin.seen.length).toBe(before);
});

test('Squid proxy auth: a rule on user alice blocks alice only', async () => {
  const noCreds = await curl(['-x', squidAuth.proxyUrl, `${origin.base}/private/a`]);
  expect(noCreds.status).toBe(407);

  const alice = await curl(['-x', squidAuth.proxyUrlFor(ALICE), `${origin.base}/private/a`]);
  expect(alice.status).toBe(403);
  expect(alice.body.toString()).toContain('alice-no-private');
  expect(origin.seen.some((s) => s.url.endsWith('/private/a'))).toBe(false);

  const bob = await curl(['-x', squidAuth.proxyUrlFor(BOB), `${origin.base}/private/b`]);
  expect(bob.status).toBe(200);
  expect(bob.body.toString()).toBe(plainBody('GET', '/private/b'));

  // alice is blocked only where the rule says so.
  const alicePublic = await curl(['-x', squidAuth.proxyUrlFor(ALICE), `${origin.base}/public`]);
  expect(alicePublic.status).toBe(200);
  // Squid logged the user name on her requests (what went into X-Client-Username).
  expect(squidAuth.accessLog()).toMatch(/ alice /);
});

test('imgate stops on SIGTERM with exit code 0', async () => {
  await Promise.allSettled([squid.cleanup(), squidAuth.cleanup()]);
  const res = await gw.stop();
  expect(res).toEqual({ code: 0, signal: null });
});
