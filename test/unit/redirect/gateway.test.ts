// The redirect listeners inside the whole engine (startGateway): readiness,
// 'listening' lines, loop protection against the doors' own ports, reload of
// the upstreams map, drain.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../../src/config';
import { startGateway, type Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';

const lines: Array<Record<string, unknown>> = [];
const logger = createLogger(
  'info',
  new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }),
);
const dir = mkdtempSync(join(tmpdir(), 'imgate-rd-'));
const configFile = join(dir, 'imgate.yaml');
let gw: Gateway;
let upstream: net.Server;
let upPort = 0;
const got: string[] = [];

const config = (target: string) => `data_dir: ${join(dir, 'var')}
icap: { enabled: false }
http_proxy: { enabled: false }
socks5: { listen: { port: 0 } }
admin: { listen: { port: 0 } }
redirect:
  listeners:
    - { listen: { host: 127.0.0.1, port: 0 }, protocol: http }
  upstreams: { "web.test": "${target}" }
`;

/** One HTTP request to the redirect listener; the raw answer. */
function ask(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let data = '';
    c.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.includes('\r\n\r\n')) c.end();
    });
    c.on('close', () => resolve(data));
    c.on('error', () => resolve(data));
    c.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  });
}

beforeAll(async () => {
  upstream = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      got.push(d.toString());
      s.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as net.AddressInfo).port;
  writeFileSync(configFile, config(`127.0.0.1:${upPort}`));
  gw = await startGateway(loadConfig(configFile), { logger, defaultMetrics: false });
});

afterAll(async () => {
  await gw?.drain(1000);
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('the listener is bound, ready and logged like the doors', () => {
  const addr = gw.listeners['redirect-0'];
  expect(addr).toMatchObject({ address: '127.0.0.1' });
  expect(gw.readiness.report()).toMatchObject({ ready: true, listeners: { 'redirect-0': { state: 'bound', port: addr?.port } } });
  expect(lines.find((l) => l.msg === 'listening' && l.door === 'redirect-0')).toMatchObject({ port: addr?.port });
});

test('the Host the map names is reached; a reload of the map applies to the next connection', async () => {
  const port = gw.listeners['redirect-0']?.port as number;
  expect(await ask(port, 'web.test')).toMatch(/^HTTP\/1\.1 204/);
  expect(got.at(-1)).toBe('GET / HTTP/1.1\r\nHost: web.test\r\n\r\n');
  // Point web.test at the SOCKS5 door: the gateway's own address, so refused.
  const socks = gw.listeners.socks5?.port as number;
  writeFileSync(configFile, config(`127.0.0.1:${socks}`));
  const r = await gw.reload();
  expect(r.needsRestart).toEqual([]);
  expect(await ask(port, 'web.test')).toMatch(/^HTTP\/1\.1 403 Forbidden/);
  expect(lines.find((l) => l.msg === 'redirect refused')).toMatchObject({ door: 'redirect', reason: 'not-allowed', detail: `loop: 127.0.0.1:${socks} is the gateway itself` });
});

test('a changed listener list asks for a restart', async () => {
  writeFileSync(configFile, config(`127.0.0.1:${upPort}`).replace('protocol: http', 'protocol: auto'));
  expect((await gw.reload()).needsRestart).toEqual(['redirect.listeners']);
});

test('drain closes the listener', async () => {
  const port = gw.listeners['redirect-0']?.port as number;
  await gw.drain(1000);
  expect(gw.readiness.report().listeners['redirect-0']?.state).toBe('closed');
  const refused = await new Promise<boolean>((r) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('connect', () => (c.destroy(), r(false)));
    c.on('error', () => r(true));
  });
  expect(refused).toBe(true);
});
