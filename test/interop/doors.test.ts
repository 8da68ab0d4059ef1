// curl through imgate's proxy doors (SOCKS5 and HTTP proxy) to a local
// origin, with Dante as the SOCKS reference, plus Squid chaining to imgate as
// its parent proxy. What an operator checks: clients get through, auth is
// enforced, denied destinations get the standard refusal, chaining works.
import fs from 'node:fs';
import path from 'node:path';
import { Gateway } from './helpers/gateway';
import { Dante } from './helpers/dante';
import { Squid } from './helpers/squid';
import { bigBody, plainBody, sha256, startOrigin, type Origin } from './helpers/origin';
import { curl } from './helpers/curl';
import { metricValue } from './helpers/metrics';

const ALICE = { name: 'alice', password: 'alice-pw' };

let origin: Origin;
let denied: Origin; // a second origin whose port is denied by access.destinations
let gw: Gateway; // auth none
let gwAuth: Gateway; // socks5 userpass + http basic
let dante: Dante;
let squid: Squid;

beforeAll(async () => {
  origin = await startOrigin();
  denied = await startOrigin();
  const access = {
    access: { destinations: [{ action: 'deny', ports: [denied.port] }], default_destination: 'allow' },
  };
  gw = await Gateway.start({ name: 'doors', config: access });
  gwAuth = await Gateway.start({
    name: 'doors-auth',
    users: [ALICE],
    config: { ...access, socks5: { auth: 'userpass' }, http_proxy: { auth: 'basic' } },
  });
  dante = await Dante.start({ denyPorts: [denied.port] });
  squid = await Squid.start({ parentPort: gw.ports.http, name: 'squid-parent' });
});

afterAll(async () => {
  await Promise.allSettled([squid?.cleanup(), dante?.cleanup(), gw?.cleanup(), gwAuth?.cleanup()]);
  await Promise.allSettled([origin?.close(), denied?.close()]);
});

const socksUrl = (port: number, user?: { name: string; password: string }): string =>
  `${user ? `${user.name}:${user.password}@` : ''}127.0.0.1:${port}`;

describe('SOCKS5 door', () => {
  test.each([['--socks5-hostname'], ['--socks5']])('%s GET reaches the origin (same as via Dante)', async (flag) => {
    for (const port of [gw.ports.socks5, dante.port]) {
      const r = await curl([flag, socksUrl(port), `${origin.base}/s5?flag=${flag}`]);
      expect(r.code).toBe(0);
      expect(r.body.toString()).toBe(plainBody('GET', `/s5?flag=${flag}`));
    }
  });

  test('a 2 MiB download through the tunnel is byte-identical', async () => {
    const n = 2 * 1024 * 1024;
    const r = await curl(['--socks5-hostname', socksUrl(gw.ports.socks5), `${origin.base}/big/${n}`]);
    expect(r.code).toBe(0);
    expect(sha256(r.body)).toBe(sha256(bigBody(n)));
  });

  test('with auth on: the right password works, none or a wrong one fails', async () => {
    const ok = await curl(['--socks5-hostname', socksUrl(gwAuth.ports.socks5, ALICE), `${origin.base}/auth-ok`]);
    expect(ok.code).toBe(0);
    expect(ok.body.toString()).toBe(plainBody('GET', '/auth-ok'));

    const ok2 = await curl(['--socks5', socksUrl(gwAuth.ports.socks5, ALICE), `${origin.base}/auth-ok2`]);
    expect(ok2.code).toBe(0);

    const none = await curl(['--socks5-hostname', socksUrl(gwAuth.ports.socks5), `${origin.base}/auth-none`]);
    expect(none.code).toBe(97); // CURLE_PROXY
    expect(none.stderr).toMatch(/No authentication method was acceptable/);
    expect(none.body.length).toBe(0);

    const wrong = await curl([
      '--socks5-hostname',
      socksUrl(gwAuth.ports.socks5, { name: 'alice', password: 'wrong' }),
      `${origin.base}/auth-wrong`,
    ]);
    expect(wrong.code).toBe(97);
    expect(wrong.stderr).toMatch(/User was rejected by the SOCKS5 server/); // RFC 1929 status != 0
    expect(origin.seen.some((s) => s.url.startsWith('/auth-none') || s.url.startsWith('/auth-wrong'))).toBe(false);
  });

  test('a denied destination gets SOCKS reply 2 (not allowed), exactly as Dante answers', async () => {
    for (const flag of ['--socks5-hostname', '--socks5']) {
      const ref = await curl([flag, socksUrl(dante.port), `${denied.base}/nope`]);
      const ours = await curl([flag, socksUrl(gw.ports.socks5), `${denied.base}/nope`]);
      expect(ref.code).toBe(97);
      expect(ref.stderr).toMatch(/\(2\)/);
      expect(ours.code).toBe(ref.code);
      expect(ours.stderr.trim()).toBe(ref.stderr.trim());
    }
    expect(denied.seen.length).toBe(0);
  });
});

describe('HTTP proxy door', () => {
  test('absolute-URI GET and POST are forwarded', async () => {
    const get = await curl(['-x', `http://127.0.0.1:${gw.ports.http}`, `${origin.base}/fwd?q=1`]);
    expect(get.code).toBe(0);
    expect(get.status).toBe(200);
    expect(get.body.toString()).toBe(plainBody('GET', '/fwd?q=1'));

    const body = bigBody(100_000);
    const file = path.join(gw.dir, 'post.bin');
    fs.writeFileSync(file, body);
    const post = await curl(['-x', `http://127.0.0.1:${gw.ports.http}`, '--data-binary', `@${file}`, `${origin.base}/fwd-post`]);
    expect(post.code).toBe(0);
    expect(post.status).toBe(200);
    expect(JSON.parse(post.body.toString())).toEqual({ length: body.length, sha256: sha256(body) });
  });

  test('CONNECT (-p) tunnels to the origin', async () => {
    const r = await curl(['-p', '-x', `http://127.0.0.1:${gw.ports.http}`, `${origin.base}/tunnel`]);
    expect(r.code).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(plainBody('GET', '/tunnel'));
  });

  test('with basic auth on: 407 without or with wrong credentials, 200 with the right ones', async () => {
    const proxy = `http://127.0.0.1:${gwAuth.ports.http}`;
    const none = await curl(['-x', proxy, `${origin.base}/b-none`]);
    expect(none.status).toBe(407);
    const wrong = await curl(['-x', proxy, '-U', 'alice:wrong', `${origin.base}/b-wrong`]);
    expect(wrong.status).toBe(407);
    const ok = await curl(['-x', proxy, '-U', `${ALICE.name}:${ALICE.password}`, `${origin.base}/b-ok`]);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe(plainBody('GET', '/b-ok'));
    const tunnel = await curl(['-p', '-x', proxy, '-U', `${ALICE.name}:${ALICE.password}`, `${origin.base}/b-tunnel`]);
    expect(tunnel.code).toBe(0);
    expect(tunnel.body.toString()).toBe(plainBody('GET', '/b-tunnel'));
    const tunnelNone = await curl(['-p', '-x', proxy, `${origin.base}/b-tunnel-none`]);
    expect(tunnelNone.code).toBe(56); // CONNECT refused
    expect(tunnelNone.stderr).toMatch(/407/);
    expect(origin.seen.some((s) => /\/b-(none|wrong|tunnel-none)/.test(s.url))).toBe(false);
  });

  test('a denied destination gets HTTP 403, for forwarding and for CONNECT', async () => {
    const proxy = `http://127.0.0.1:${gw.ports.http}`;
    const fwd = await curl(['-x', proxy, `${denied.base}/nope`]);
    expect(fwd.status).toBe(403);
    const tunnel = await curl(['-p', '-x', proxy, `${denied.base}/nope`]);
    expect(tunnel.code).toBe(56);
    expect(tunnel.stderr).toMatch(/CONNECT tunnel failed, response 403/);
    expect(denied.seen.length).toBe(0);
  });
});

describe('Squid chaining to imgate as cache_peer parent (never_direct)', () => {
  test('GET goes Squid -> imgate -> origin', async () => {
    const r = await curl(['-x', squid.proxyUrl, `${origin.base}/via-parent`]);
    expect(r.code).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(plainBody('GET', '/via-parent'));
    const seen = origin.seen.find((s) => s.url.endsWith('/via-parent'));
    expect(String(seen?.headers.via ?? '')).toMatch(/squid/);
    expect(squid.accessLog()).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/via-parent .*FIRSTUP_PARENT\/127\.0\.0\.1/);
  });

  test('CONNECT goes Squid -> imgate -> origin', async () => {
    const r = await curl(['-p', '-x', squid.proxyUrl, `${origin.base}/via-parent-tunnel`]);
    expect(r.code).toBe(0);
    expect(r.body.toString()).toBe(plainBody('GET', '/via-parent-tunnel'));
    // Squid logs a CONNECT when the tunnel closes.
    const deadline = Date.now() + 3000;
    while (!/CONNECT 127\.0\.0\.1:\d+ .*FIRSTUP_PARENT/.test(squid.accessLog()) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(squid.accessLog()).toMatch(/CONNECT 127\.0\.0\.1:\d+ .*FIRSTUP_PARENT\/127\.0\.0\.1/);
    const metrics = (await gw.admin('/metrics')).body;
    expect(metricValue(metrics, 'imgate_connections_total', { door: 'http' })).toBeGreaterThanOrEqual(1);
  });
});

test('both gateways stop on SIGTERM with exit code 0', async () => {
  await squid.cleanup();
  const [a, b] = await Promise.all([gw.stop(), gwAuth.stop()]);
  expect(a).toEqual({ code: 0, signal: null });
  expect(b).toEqual({ code: 0, signal: null });
});
