// Operating the gateway: config validation exit codes, SIGHUP reload of the
// policy without restart (ISTag changes, so Squid drops cached verdicts),
// graceful SIGTERM that lets in-flight transfers finish, health and metrics.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { Gateway, IMGATE_BIN, REPO, assertBuilt } from './helpers/gateway';
import { run } from './helpers/process';
import { makeTempDir, removeTempDir } from './helpers/tmpdir';
import { icapOptions } from './helpers/icap-raw';
import { cicapClient } from './helpers/cicap-client';
import { canConnect, sleep } from './helpers/ports';
import { curl } from './helpers/curl';
import { metricValue } from './helpers/metrics';
import { plainBody, slowBodyLength, startOrigin, type Origin } from './helpers/origin';

let origin: Origin;
let scratch: string;
const gateways: Gateway[] = [];

beforeAll(async () => {
  assertBuilt();
  origin = await startOrigin();
  scratch = makeTempDir('lifecycle');
});

afterAll(async () => {
  await Promise.allSettled(gateways.map((g) => g.cleanup()));
  await origin?.close();
  removeTempDir(scratch);
});

async function start(opts: Parameters<typeof Gateway.start>[0]): Promise<Gateway> {
  const g = await Gateway.start(opts);
  gateways.push(g);
  return g;
}

function checkConfig(file: string): ReturnType<typeof run> {
  return run(process.execPath, [IMGATE_BIN, 'check-config', '--config', file], { timeoutMs: 20000, cwd: scratch });
}

describe('imgate check-config', () => {
  test('the shipped conf/imgate.yaml is valid (exit 0)', async () => {
    const r = await checkConfig(path.join(REPO, 'conf', 'imgate.yaml'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('a valid custom config with a policy is accepted (exit 0)', async () => {
    const dir = path.join(scratch, 'good');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'rules.yaml'), 'default: allow\nrules:\n  - id: r1\n    when: { host: ["x.example"] }\n    then: block\n');
    fs.writeFileSync(
      path.join(dir, 'imgate.yaml'),
      YAML.stringify({ policy_file: 'rules.yaml', icap: { listen: { host: '127.0.0.1', port: 11344 } } }),
    );
    const r = await checkConfig(path.join(dir, 'imgate.yaml'));
    expect(r.code).toBe(0);
  });

  test.each([
    ['a bad value', { icap: { listen: { port: 'abc' } } }, /icap\.listen\.port/],
    ['a misspelt key', { socks5: { lisen: { port: 1 } } }, /socks5\.lisen/],
    ['an invalid CIDR', { access: { clients: ['10.0.0.0/99'] } }, /access\.clients/],
  ])('%s: non-zero exit and the error names the key', async (_label, doc, key) => {
    const file = path.join(scratch, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(path.join(scratch, 'policy.yaml'), 'default: allow\nrules: []\n');
    fs.writeFileSync(file, YAML.stringify(doc));
    const r = await checkConfig(file);
    expect(r.code).toBe(2); // documented: 2 = invalid config or policy
    expect(r.stderr).toMatch(key);
  });

  test('a broken policy file: non-zero exit naming the rule field', async () => {
    const dir = path.join(scratch, 'badpolicy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'policy.yaml'), 'default: allow\nrules:\n  - id: r1\n    when: {}\n    then: explode\n');
    fs.writeFileSync(path.join(dir, 'imgate.yaml'), 'policy_file: policy.yaml\n');
    const r = await checkConfig(path.join(dir, 'imgate.yaml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rules\[0\].*then/);
  });
});

describe('running gateway', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await start({ name: 'lifecycle' });
  });

  test('logs one "listening" line per door with its address and port', () => {
    const listening = gw.logs().filter((l) => l.msg === 'listening');
    const byDoor = new Map(listening.map((l) => [String(l.door), l]));
    for (const [door, port] of [
      ['icap', gw.ports.icap],
      ['socks5', gw.ports.socks5],
      ['http', gw.ports.http],
    ] as const) {
      expect(byDoor.get(door)).toMatchObject({ address: '127.0.0.1', port });
    }
  });

  test('/healthz and /readyz answer 200', async () => {
    expect((await gw.admin('/healthz')).status).toBe(200);
    expect((await gw.admin('/readyz')).status).toBe(200);
  });

  test('SIGHUP reload: a URL becomes blocked without restart and the ISTag changes', async () => {
    const args = ['-req', 'http://127.0.0.1/later-blocked', '-nopreview', '-no204'];
    const before = await cicapClient(gw.ports.icap, 'reqmod', args, gw.dir);
    expect(before.stderr).not.toMatch(/HTTP\/1\.[01] 403/);
    const istag1 = (await icapOptions(gw.ports.icap, '/reqmod')).headers.get('istag');
    expect(istag1).toBeTruthy();

    gw.writePolicy('default: allow\nrules:\n  - id: block-later\n    when: { url_matches: ["/later-blocked"] }\n    then: block\n');
    const mark = gw.logs().length;
    gw.reload();
    let istag2 = istag1;
    for (let i = 0; i < 50 && istag2 === istag1; i++) {
      await sleep(100);
      istag2 = (await icapOptions(gw.ports.icap, '/reqmod')).headers.get('istag');
    }
    expect(istag2).not.toBe(istag1);
    // The reload is logged with the new ISTag (unquoted in the log).
    const logged = await gw.waitLog((l) => l.msg === 'reloaded', 5000, mark);
    expect(logged?.istag).toBe(istag2?.replace(/"/g, ''));
    // RESPMOD shares the policy, so its ISTag moves too.
    expect((await icapOptions(gw.ports.icap, '/respmod')).headers.get('istag')).toBe(istag2);

    const after = await cicapClient(gw.ports.icap, 'reqmod', args, gw.dir);
    expect(after.stderr).toMatch(/HTTP\/1\.[01] 403/);
    expect(after.output?.toString()).toContain('block-later');
    expect(gw.daemon.alive()).toBe(true); // same process: no restart
  });

  test('SIGHUP with a broken policy keeps the running policy and the process', async () => {
    const istag = (await icapOptions(gw.ports.icap, '/reqmod')).headers.get('istag');
    gw.writePolicy('default: allow\nrules:\n  - id: broken\n    then: explode\n');
    const mark = gw.logs().length;
    gw.reload();
    // The operator sees why in the log, naming the rule and key.
    const failed = await gw.waitLog((l) => String(l.msg).startsWith('reload failed'), 5000, mark);
    expect(JSON.stringify(failed)).toMatch(/rules\[0\].*then/);
    expect(gw.daemon.alive()).toBe(true);
    expect((await gw.admin('/readyz')).status).toBe(200);
    expect((await icapOptions(gw.ports.icap, '/reqmod')).headers.get('istag')).toBe(istag);
    const r = await cicapClient(gw.ports.icap, 'reqmod', ['-req', 'http://127.0.0.1/later-blocked', '-nopreview', '-no204'], gw.dir);
    expect(r.output?.toString()).toContain('block-later');
  });

  test('/metrics has the expected series after traffic', async () => {
    const s5 = await curl(['--socks5-hostname', `127.0.0.1:${gw.ports.socks5}`, `${origin.base}/m1`]);
    expect(s5.body.toString()).toBe(plainBody('GET', '/m1'));
    const hp = await curl(['-x', `http://127.0.0.1:${gw.ports.http}`, `${origin.base}/m2`]);
    expect(hp.status).toBe(200);
    await sleep(200); // tunnel byte counters are added at tunnel close
    const m = await gw.admin('/metrics');
    expect(m.status).toBe(200);
    expect(String(m.headers['content-type'])).toMatch(/text\/plain/);
    const t = m.body;
    expect(metricValue(t, 'imgate_icap_requests_total', { method: 'OPTIONS', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(t, 'imgate_icap_requests_total', { method: 'REQMOD' })).toBeGreaterThanOrEqual(3);
    expect(metricValue(t, 'imgate_icap_request_duration_seconds_count', { method: 'REQMOD' })).toBeGreaterThanOrEqual(3);
    expect(metricValue(t, 'imgate_policy_verdicts_total', { action: 'block' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(t, 'imgate_connections_total', { door: 'socks5' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(t, 'imgate_bytes_total', { door: 'socks5', direction: 'down' })).toBeGreaterThan(0);
    expect(metricValue(t, 'imgate_forward_requests_total', { door: 'http' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(t, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('SIGTERM during a slow transfer: it finishes, new connections are refused, /readyz 503, exit 0', async () => {
    const n = 10; // 10 x 1000 bytes, one every 300 ms: ~3 s, inside the 10 s drain
    const transfer = curl(['--socks5-hostname', `127.0.0.1:${gw.ports.socks5}`, `${origin.base}/slow?n=${n}&ms=300`]);
    const deadline = Date.now() + 5000;
    while (!origin.seen.some((s) => s.url.startsWith('/slow')) && Date.now() < deadline) await sleep(20);
    await sleep(300); // mid-transfer
    const t0 = Date.now();
    gw.daemon.signal('SIGTERM');
    await sleep(300);
    expect(await canConnect(gw.ports.socks5)).toBe(false); // listener closed while draining
    // Admin stays up while draining and tells load balancers to look elsewhere.
    expect((await gw.admin('/readyz')).status).toBe(503);
    expect((await gw.admin('/healthz')).status).toBe(200);
    const r = await transfer;
    expect(r.code).toBe(0);
    expect(r.body.length).toBe(slowBodyLength(n));
    const exit = await gw.daemon.waitExit(15000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(10000 + 2000);
  });
});

test('SIGTERM with a transfer longer than the drain timeout: exits 0 once the timeout passes', async () => {
  const gw = await start({ name: 'drain', config: { shutdown: { drain_timeout_ms: 1500 } } });
  const transfer = curl(['--socks5-hostname', `127.0.0.1:${gw.ports.socks5}`, `${origin.base}/slow?n=40&ms=250`]); // ~10 s
  await sleep(700);
  const t0 = Date.now();
  gw.daemon.signal('SIGTERM');
  const exit = await gw.daemon.waitExit(10000);
  const took = Date.now() - t0;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(took).toBeGreaterThanOrEqual(1000);
  expect(took).toBeLessThan(1500 + 2500);
  const r = await transfer;
  expect(r.body.length).toBeLessThan(slowBodyLength(40)); // cut at the deadline
});
