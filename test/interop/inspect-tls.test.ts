// TLS application control through the real gateway (bin/imgate.js, built
// dist/): a node TLS client through the SOCKS5 door and curl through the
// HTTP door's CONNECT, to a local TLS server with a self-signed certificate.
// Policy blocks the app "whatsapp": SNI web.whatsapp.com never completes a
// handshake; SNI ok.test does and exchanges data; the gateway logs the IM
// event with the app and the rule.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { SocksClient } from 'socks';
import { curl } from './helpers/curl';
import { Gateway, REPO, type LogLine } from './helpers/gateway';
import { makeTempDir, removeTempDir } from './helpers/tmpdir';

const POLICY = `default: allow
rules:
  - id: no-whatsapp
    when: { app: [whatsapp] }
    then: block
`;

let dir: string;
let gw: Gateway;
let server: https.Server;
let port: number;
let handshakes = 0;
const serverNames: string[] = [];

beforeAll(async () => {
  const registry = require(path.join(REPO, 'dist', 'src', 'protocols', 'registry.js')) as { modules: Array<{ name: string }> };
  if (!registry.modules.some((m) => m.name === 'tls')) {
    throw new Error('the built protocol registry has no "tls" module: add tlsModule to src/protocols/registry.ts and run npm run build');
  }
  dir = makeTempDir('inspect-tls');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    res.end(`hello over tls to ${req.headers.host}`);
  });
  server.on('secureConnection', (s: tls.TLSSocket) => {
    handshakes++;
    serverNames.push(String((s as tls.TLSSocket & { servername?: string | false }).servername));
    // A raw TLS echo for the SOCKS test: anything not an HTTP request is echoed.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
  gw = await Gateway.start({
    name: 'inspect-tls',
    policy: POLICY,
    // Loopback only, whatever name a client asks for.
    config: { access: { destinations: [{ action: 'allow', cidrs: ['127.0.0.0/8'] }], default_destination: 'deny' } },
  });
});

afterAll(async () => {
  await gw?.cleanup();
  await new Promise((r) => server?.close(r));
  server?.closeAllConnections();
  if (dir) removeTempDir(dir);
});

async function socksTunnel(): Promise<net.Socket> {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.ports.socks5, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
    timeout: 5000,
  });
  return socket;
}

/** TLS over the tunnel; resolves how it ended and what came back for a GET. */
function tlsThrough(socket: net.Socket, servername: string): Promise<{ secure: boolean; body: string; error?: string }> {
  return new Promise((resolve) => {
    let secure = false;
    let body = '';
    const c = tls.connect({ socket, servername, rejectUnauthorized: false });
    c.setTimeout(5000, () => c.destroy(new Error('timeout')));
    c.on('secureConnect', () => {
      secure = true;
      c.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    c.on('data', (d: Buffer) => (body += d.toString()));
    c.on('error', (err) => resolve({ secure, body, error: err.message }));
    c.on('close', () => resolve({ secure, body }));
  });
}

const imEvent = (sni: string) => (l: LogLine) => l.msg === 'im event' && (l.detail as { sni?: string } | undefined)?.sni === sni;

describe('TLS applications through the SOCKS5 door', () => {
  test('SNI web.whatsapp.com is refused before the handshake completes; the event names the app and rule', async () => {
    const before = handshakes;
    const r = await tlsThrough(await socksTunnel(), 'web.whatsapp.com');
    expect(r.secure).toBe(false);
    expect(r.body).toBe('');
    expect(handshakes).toBe(before);
    const ev = await gw.waitLog(imEvent('web.whatsapp.com'));
    expect(ev).toMatchObject({ protocol: 'tls', kind: 'connection', app: 'whatsapp', action: 'block', rule: 'no-whatsapp', door: 'socks5', direction: 'out' });
    const closed = await gw.waitLog((l) => l.msg === 'tunnel closed' && l.conn === ev?.conn);
    expect(String(closed?.reason)).toContain('blocked by policy: rule no-whatsapp');
  });

  test('SNI ok.test completes and exchanges data', async () => {
    const r = await tlsThrough(await socksTunnel(), 'ok.test');
    expect(r.error).toBeUndefined();
    expect(r.secure).toBe(true);
    expect(r.body).toContain('hello over tls to ok.test');
    expect(serverNames).toContain('ok.test');
    const ev = await gw.waitLog(imEvent('ok.test'));
    expect(ev).toMatchObject({ protocol: 'tls', kind: 'connection', action: 'allow', rule: 'default' });
    expect(ev).not.toHaveProperty('app');
  });
});

describe('TLS applications through the HTTP door (curl, CONNECT)', () => {
  const viaProxy = (host: string) => [
    '-k',
    '--proxy',
    `http://127.0.0.1:${gw.ports.http}`,
    // CONNECT goes to 127.0.0.1, while the URL (and so the SNI) keeps the name.
    '--connect-to',
    `${host}:${port}:127.0.0.1:${port}`,
    `https://${host}:${port}/`,
  ];

  test('whatsapp is refused: curl fails in the TLS handshake, the server sees none', async () => {
    const before = handshakes;
    const r = await curl(viaProxy('web.whatsapp.com'), 15000);
    expect(r.code).not.toBe(0);
    expect(r.status).toBe(0);
    expect(handshakes).toBe(before);
    const ev = await gw.waitLog((l) => imEvent('web.whatsapp.com')(l) && l.door === 'http');
    expect(ev).toMatchObject({ protocol: 'tls', app: 'whatsapp', rule: 'no-whatsapp', action: 'block' });
  });

  test('ok.test gets through and returns the page', async () => {
    const r = await curl(viaProxy('ok.test'), 15000);
    expect(r.code).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`hello over tls to ok.test:${port}`);
    expect(await gw.waitLog((l) => imEvent('ok.test')(l) && l.door === 'http')).toMatchObject({ action: 'allow', detail: { sni: 'ok.test' } });
  });

  test('metrics count the events by protocol and the tunnels by protocol', async () => {
    const m = (await gw.admin('/metrics')).body.toString();
    expect(m).toMatch(/imgate_im_events_total\{protocol="tls",kind="connection",action="block"\} 2/);
    expect(m).toMatch(/imgate_tunnels_by_protocol_total\{protocol="tls"\} [4-9]/);
  });
});
