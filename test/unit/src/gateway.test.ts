// The whole engine in-process with the real icap/ and socks/ listeners on
// port 0: listening lines, ICAP OPTIONS ISTag, a SOCKS5 tunnel, readiness,
// reload (ISTag swap, bad policy keeps the old one), port in use, drain.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SocksClient } from 'socks';
import { loadConfig } from '../../../src/config';
import { startGateway, type Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';

jest.setTimeout(15000);

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

const dir = mkdtempSync(join(tmpdir(), 'imgate-gw-'));
const configFile = join(dir, 'imgate.yaml');
const policyFile = join(dir, 'policy.yaml');
const ALL_PORTS_ZERO = `data_dir: ${join(dir, 'var')}
policy_file: policy.yaml
icap: { listen: { port: 0 } }
socks5: { listen: { port: 0 } }
http_proxy: { listen: { port: 0 } }
admin: { listen: { port: 0 } }
tunnel: { idle_timeout_ms: 5000 }
`;

let origin: http.Server;
let originPort = 0;
let gw: Gateway;

function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Raw ICAP OPTIONS; returns the response head. */
function icapOptions(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n\r\n')) {
        s.destroy();
        resolve(data);
      }
    });
    s.on('error', reject);
    s.write(`OPTIONS icap://127.0.0.1:${port}/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}
const istagOf = (head: string) => /^ISTag:\s*"?([^"\r\n]+)"?/im.exec(head)?.[1];

/** HTTP GET to the origin through the SOCKS5 door; resolves with the body, or rejects when the tunnel dies. */
async function viaSocks(socksPort: number, host = '127.0.0.1'): Promise<string> {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
    command: 'connect',
    destination: { host, port: originPort },
    timeout: 3000,
  });
  return new Promise((resolve, reject) => {
    let data = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => (data.includes('\r\n\r\n') ? resolve(data.split('\r\n\r\n')[1] as string) : reject(new Error('tunnel closed without a response'))));
    socket.on('error', () => undefined);
    socket.write(`GET /hello HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

beforeAll(async () => {
  origin = http.createServer((_req, res) => res.end('hello from origin'));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  originPort = (origin.address() as net.AddressInfo).port;
  writeFileSync(configFile, ALL_PORTS_ZERO);
  writeFileSync(policyFile, 'default: allow\nrules: []\n');
  gw = await startGateway(loadConfig(configFile), { logger, defaultMetrics: false });
});

afterAll(async () => {
  await gw?.drain(1000);
  await new Promise((r) => origin.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('every door listens on a real port and logs it', () => {
  for (const door of ['icap', 'socks5', 'http', 'admin'] as const) {
    const l = gw.listeners[door];
    expect(l?.port).toBeGreaterThan(0);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'listening', door, address: '127.0.0.1', port: l?.port }));
  }
});

test('readyz is 200 with every listener bound', async () => {
  const r = await getText(gw.listeners.admin?.port ?? 0, '/readyz');
  expect(r.status).toBe(200);
  const body = JSON.parse(r.body) as { listeners: Record<string, { state: string }> };
  expect(Object.keys(body.listeners).sort()).toEqual(['admin', 'http', 'icap', 'socks5']);
});

test('ICAP OPTIONS carries the policy ISTag', async () => {
  const head = await icapOptions(gw.listeners.icap?.port ?? 0);
  expect(head).toMatch(/^ICAP\/1.0 200/);
  expect(istagOf(head)).toBe(gw.policy.istag);
});

test('SOCKS5 tunnel reaches the origin and is counted', async () => {
  expect(await viaSocks(gw.listeners.socks5?.port ?? 0)).toBe('hello from origin');
  // Byte counters are updated when the relay sees both sides close.
  for (let i = 0; i < 100 && gw.tunnels.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const m = await getText(gw.listeners.admin?.port ?? 0, '/metrics');
  expect(m.body).toMatch(/imgate_connections_total\{door="socks5"\} [1-9]/);
  expect(m.body).toMatch(/imgate_bytes_total\{door="socks5",direction="down"\} [1-9]/);
});

test('reload swaps policy and ISTag; a bad policy keeps the old one', async () => {
  const before = gw.policy.istag;
  writeFileSync(policyFile, 'default: allow\nrules:\n  - { id: no-local, when: { kind: connection, host: "127.0.0.1" }, then: block }\n');
  const res = await gw.reload();
  expect(res.policyChanged).toBe(true);
  expect(res.needsRestart).toEqual([]);
  expect(res.istag).not.toBe(before);
  expect(istagOf(await icapOptions(gw.listeners.icap?.port ?? 0))).toBe(res.istag);
  await expect(viaSocks(gw.listeners.socks5?.port ?? 0)).rejects.toThrow();

  writeFileSync(policyFile, 'default: allow\nrules:\n  - { id: broken, when: { kind: chat }, then: block }\n');
  await expect(gw.reload()).rejects.toThrow(/rules\[0\] \(id "broken"\)\.when\.kind\[0\]/);
  expect(gw.policy.istag).toBe(res.istag);

  writeFileSync(policyFile, 'default: allow\nrules: []\n');
  writeFileSync(configFile, ALL_PORTS_ZERO.replace('icap: { listen: { port: 0 } }', 'icap: { listen: { port: 0 }, max_connections: 5 }'));
  const r2 = await gw.reload();
  expect(r2.needsRestart).toEqual(['icap']);
  expect(r2.istag).toBe(before);
  expect(await viaSocks(gw.listeners.socks5?.port ?? 0)).toBe('hello from origin');
  expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', section: 'icap' }));
});

test('a port in use fails startup with a clear error and closes what it opened', async () => {
  const busy = gw.listeners.socks5?.port ?? 0;
  const cfg = loadConfig(configFile);
  const conflicting = { ...cfg, socks5: { ...cfg.socks5, listen: { host: '127.0.0.1', port: busy } } };
  await expect(startGateway(conflicting, { logger, defaultMetrics: false })).rejects.toThrow(
    `socks5: cannot listen on 127.0.0.1:${busy}: address already in use`,
  );
});

test('drain closes every door and ends open tunnels within the timeout', async () => {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.listeners.socks5?.port ?? 0, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: originPort },
    timeout: 3000,
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.resume();
  socket.once('end', () => socket.end());
  expect(gw.tunnels.size).toBe(1);
  const t0 = Date.now();
  await gw.drain(300);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  await closed;
  expect(gw.tunnels.size).toBe(0);
  expect(gw.readiness.report().ready).toBe(false);
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: gw.listeners.icap?.port ?? 0 });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
  expect(refused).toBe(true);
});
