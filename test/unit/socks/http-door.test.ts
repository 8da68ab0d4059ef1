import net from 'node:net';
import http from 'node:http';
import crypto from 'node:crypto';
import { createHttpProxyDoor } from '../../../socks/http-door';
import type { HttpProxyDoorOptions } from '../../../socks/types';
import { curl as curlFor, deadPort, DoorSet, pattern, rawExchange, sha256, startEchoOrigin, startHttpOrigin, until } from './helpers';
import type { DoorFixture } from './helpers';

const curl = (args: string[]) => curlFor(args, 8);

jest.setTimeout(20000);

const doors = new DoorSet();
function startDoor(over: Partial<HttpProxyDoorOptions> = {}): Promise<DoorFixture> {
  return doors.start((hooks, logger) =>
    createHttpProxyDoor({
      host: '127.0.0.1',
      port: 0,
      auth: 'none',
      realm: 'imgate-test',
      headerTimeoutMs: 2000,
      maxHeaderBytes: 8192,
      keepAliveTimeoutMs: 2000,
      hooks,
      logger,
      ...over,
    }),
  );
}

let echo: Awaited<ReturnType<typeof startEchoOrigin>>;
let webA: Awaited<ReturnType<typeof startHttpOrigin>>;
let webB: Awaited<ReturnType<typeof startHttpOrigin>>;

beforeAll(async () => {
  echo = await startEchoOrigin();
  webA = await startHttpOrigin('A');
  webB = await startHttpOrigin('B');
});

afterAll(async () => {
  await doors.closeAll();
  await echo.close();
  await webA.close();
  await webB.close();
});

/** Read one HTTP response (head + Content-Length body) from a raw socket. */
function readResponse(s: net.Socket, buffered: { buf: Buffer }): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  return new Promise((resolve, reject) => {
    const tryParse = (): boolean => {
      const end = buffered.buf.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const head = buffered.buf.subarray(0, end).toString('latin1');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const c = l.indexOf(':');
        headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      let body: string;
      let total: number;
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        // Minimal chunked decoder (no trailers): enough for this test origin.
        let p = end + 4;
        const parts: Buffer[] = [];
        for (;;) {
          const eol = buffered.buf.indexOf('\r\n', p);
          if (eol < 0) return false;
          const size = parseInt(buffered.buf.subarray(p, eol).toString('latin1'), 16);
          if (buffered.buf.length < eol + 2 + size + 2) return false;
          parts.push(buffered.buf.subarray(eol + 2, eol + 2 + size));
          p = eol + 2 + size + 2;
          if (size === 0) break;
        }
        body = Buffer.concat(parts).toString();
        total = p;
      } else {
        const len = Number(headers['content-length'] ?? '0');
        if (buffered.buf.length < end + 4 + len) return false;
        body = buffered.buf.subarray(end + 4, end + 4 + len).toString();
        total = end + 4 + len;
      }
      const raw = buffered.buf.subarray(0, total).toString('latin1');
      buffered.buf = buffered.buf.subarray(total);
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body, raw });
      return true;
    };
    if (tryParse()) return;
    const onData = (c: Buffer) => {
      buffered.buf = Buffer.concat([buffered.buf, c]);
      if (tryParse()) cleanup();
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`closed before a full response (${buffered.buf.length} bytes buffered)`));
    };
    const cleanup = () => {
      s.removeListener('data', onData);
      s.removeListener('close', onClose);
    };
    s.on('data', onData);
    s.on('close', onClose);
  });
}

async function openRaw(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => s.once('connect', r));
  return s;
}

describe('HTTP door: CONNECT', () => {
  test('CONNECT -> 200 then bytes both ways, head bytes preserved', async () => {
    const f = await startDoor();
    const s = await openRaw(f.port);
    // The request and the first tunnel bytes in one write.
    s.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\nearly`);
    let got = Buffer.alloc(0);
    s.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
    const established = 'HTTP/1.1 200 Connection established\r\n\r\n';
    await until(() => got.toString() === `${established}early`);
    s.write(' more');
    await until(() => got.toString() === `${established}early more`);
    s.destroy();
    expect(f.hooks.tunnels[0]).toMatchObject({ door: 'http', mode: 'connect', destination: { host: '127.0.0.1', port: echo.port, type: 'ipv4' } });
    expect(f.door.pending()).toBe(0);
  });

  test('bytes the client sends while the door is still dialing are not lost', async () => {
    const f = await startDoor();
    f.hooks.dialDelayMs = 200;
    const s = await openRaw(f.port);
    s.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\nA`);
    await new Promise((r) => setTimeout(r, 50));
    s.write('B');
    await new Promise((r) => setTimeout(r, 50));
    s.write('C');
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    await until(() => got.endsWith('ABC'));
    s.destroy();
    expect(got).toBe('HTTP/1.1 200 Connection established\r\n\r\nABC');
  });

  test('curl -p -x tunnels a request through CONNECT', async () => {
    const f = await startDoor();
    const r = await curl(['-p', '-x', `http://127.0.0.1:${f.port}`, `http://127.0.0.1:${webA.port}/tunnelled`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ origin: 'A', url: '/tunnelled' });
    expect(f.hooks.tunnels).toHaveLength(1);
    expect(f.hooks.forwards).toHaveLength(0);
  });

  test('CONNECT [::1]:port is parsed as IPv6', async () => {
    const f = await startDoor();
    f.hooks.denyHosts.add('::1');
    const ex = await rawExchange(f.port, [Buffer.from('CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n')]);
    expect(ex.data.toString()).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(f.hooks.refusals[0]?.req.destination).toEqual({ host: '::1', port: 443, type: 'ipv6' });
  });

  test('refused destination -> 403 with Connection: close', async () => {
    const f = await startDoor();
    f.hooks.denyHosts.add('127.0.0.1');
    const ex = await rawExchange(f.port, [Buffer.from(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`)]);
    const text = ex.data.toString();
    expect(text).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(text).toMatch(/\r\nConnection: close\r\n/);
    expect(ex.ended).toBe('closed');
    expect(f.hooks.dials).toHaveLength(0);
    expect(f.hooks.refusals[0]).toMatchObject({ reason: 'not-allowed' });
    const log = f.logger.lines.find((l) => l.obj.reason === 'not-allowed');
    expect(log?.obj).toMatchObject({ conn: expect.stringMatching(/^hp-\d+$/), client: '127.0.0.1', dest: `127.0.0.1:${echo.port}`, status: 403 });
  });

  test('connection refused -> 502; ttl-expired -> 504; DialError not-allowed -> 403', async () => {
    const f = await startDoor();
    const port = await deadPort();
    const a = await rawExchange(f.port, [Buffer.from(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`)]);
    expect(a.data.toString()).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    f.hooks.failDialWith = 'ttl-expired';
    const b = await rawExchange(f.port, [Buffer.from(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`)]);
    expect(b.data.toString()).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    f.hooks.failDialWith = 'not-allowed';
    const c = await rawExchange(f.port, [Buffer.from(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`)]);
    expect(c.data.toString()).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(f.hooks.refusals.map((r) => r.reason)).toEqual(['connection-refused', 'ttl-expired', 'not-allowed']);
  });

  test('bad CONNECT target -> 400', async () => {
    const f = await startDoor();
    for (const target of ['nohostport', '127.0.0.1:0', '127.0.0.1:99999', 'bad host:80', '::1:80']) {
      const ex = await rawExchange(f.port, [Buffer.from(`CONNECT ${target} HTTP/1.1\r\n\r\n`)]);
      expect(ex.data.toString()).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(f.hooks.dials).toHaveLength(0);
  });

  test('basic auth: 407 without or with wrong credentials, tunnel with good ones', async () => {
    const f = await startDoor({ auth: 'basic' });
    const none = await rawExchange(f.port, [Buffer.from(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`)]);
    expect(none.data.toString()).toMatch(/^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    expect(none.data.toString()).toContain('Proxy-Authenticate: Basic realm="imgate-test"\r\n');
    const bad = Buffer.from('alice:nope').toString('base64');
    const wrong = await rawExchange(f.port, [Buffer.from(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nProxy-Authorization: Basic ${bad}\r\n\r\n`)]);
    expect(wrong.data.toString()).toMatch(/^HTTP\/1\.1 407 /);
    expect(f.hooks.refusals.map((r) => [r.reason, r.req.user])).toEqual([
      ['auth-failed', undefined],
      ['auth-failed', 'alice'],
    ]);
    const r = await curl(['-p', '-x', `http://alice:s3cret@127.0.0.1:${f.port}`, `http://127.0.0.1:${webA.port}/authed`]);
    expect(r.code).toBe(0);
    expect(f.hooks.tunnels[0]?.user).toBe('alice');
  });
});

describe('HTTP door: absolute-URI forwarding', () => {
  test('curl -x: GET is forwarded in origin-form, hop-by-hop stripped, Via added', async () => {
    const f = await startDoor();
    const r = await curl([
      '-x', `http://127.0.0.1:${f.port}`,
      '-H', 'Connection: keep-alive, X-Drop-Me',
      '-H', 'X-Drop-Me: 1',
      '-H', 'Keep-Alive: timeout=5',
      '-H', 'TE: trailers',
      '-H', 'X-Keep: yes',
      '-D', '-',
      `http://127.0.0.1:${webA.port}/path/x?q=1`,
    ]);
    expect(r.code).toBe(0);
    const [head, body] = r.stdout.split('\r\n\r\n');
    const facts = JSON.parse(body as string) as { url: string; headers: Record<string, string> };
    expect(facts.url).toBe('/path/x?q=1');
    expect(facts.headers.host).toBe(`127.0.0.1:${webA.port}`);
    expect(facts.headers.via).toBe('1.1 imgate');
    expect(facts.headers['x-keep']).toBe('yes');
    for (const h of ['x-drop-me', 'keep-alive', 'te', 'proxy-connection', 'proxy-authorization']) expect(facts.headers[h]).toBeUndefined();
    // Response side: the origin's hop-by-hop headers are not passed on.
    expect(head).toMatch(/\r\nVia: 1\.1 imgate\r\n/i);
    expect(head).not.toMatch(/x-origin-hop/i);
    expect(f.hooks.forwards[0]).toMatchObject({ door: 'http', mode: 'forward', method: 'GET', path: '/path/x?q=1', destination: { host: '127.0.0.1', port: webA.port } });
    expect(f.hooks.forwards[0]?.id).toMatch(/^hp-\d+\.1$/);
  });

  test('two different origins on one keep-alive client connection', async () => {
    const f = await startDoor();
    const s = await openRaw(f.port);
    const b = { buf: Buffer.alloc(0) };
    s.write(`GET http://127.0.0.1:${webA.port}/one HTTP/1.1\r\nHost: 127.0.0.1:${webA.port}\r\n\r\n`);
    const r1 = await readResponse(s, b);
    s.write(`GET http://localhost:${webB.port}/two HTTP/1.1\r\nHost: localhost:${webB.port}\r\n\r\n`);
    const r2 = await readResponse(s, b);
    // Pipelined third request, back to A.
    s.write(`POST http://127.0.0.1:${webA.port}/three HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`);
    const r3 = await readResponse(s, b);
    expect(s.destroyed).toBe(false);
    s.destroy();
    expect([r1.status, r2.status, r3.status]).toEqual([200, 200, 200]);
    expect(JSON.parse(r1.body)).toMatchObject({ origin: 'A', url: '/one' });
    expect(JSON.parse(r2.body)).toMatchObject({ origin: 'B', url: '/two', headers: { host: `localhost:${webB.port}` } });
    expect(JSON.parse(r3.body)).toMatchObject({ origin: 'A', url: '/three', bytes: 3, headers: { host: `127.0.0.1:${webA.port}` } });
    expect(r1.headers.connection).toBe('keep-alive');
    expect(f.hooks.forwards.map((x) => x.destination.type)).toEqual(['ipv4', 'domain', 'ipv4']);
    const ids = f.hooks.forwards.map((x) => x.id);
    expect(new Set(ids).size).toBe(3);
  });

  test('large bodies both ways keep their sha256', async () => {
    const f = await startDoor();
    const up = pattern(8 * 1024 * 1024 + 13);
    const upload = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: f.port, method: 'POST', path: `http://127.0.0.1:${webA.port}/sha256`, headers: { 'content-type': 'application/octet-stream' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      // Chunked upload in pieces.
      for (let i = 0; i < up.length; i += 256 * 1024) req.write(up.subarray(i, i + 256 * 1024));
      req.end();
    });
    expect(upload.status).toBe(200);
    expect(JSON.parse(upload.body)).toMatchObject({ bytes: up.length, sha256: sha256(up) });

    const n = 16 * 1024 * 1024;
    const down = await new Promise<{ hash: string; expected: string; bytes: number }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: f.port, method: 'GET', path: `http://127.0.0.1:${webA.port}/big/${n}` });
      req.on('response', (res) => {
        const h = crypto.createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          h.update(c);
          bytes += c.length;
        });
        res.on('end', () => resolve({ hash: h.digest('hex'), expected: String(res.headers['x-sha256']), bytes }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(down.bytes).toBe(n);
    expect(down.hash).toBe(down.expected);
  });

  test('403 for a refused destination, 502 for a dead origin, keep-alive kept for body-less requests', async () => {
    const f = await startDoor();
    f.hooks.denyHosts.add('localhost');
    const dead = await deadPort();
    const s = await openRaw(f.port);
    const b = { buf: Buffer.alloc(0) };
    s.write(`GET http://localhost:${webA.port}/x HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r1 = await readResponse(s, b);
    s.write(`GET http://127.0.0.1:${dead}/x HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r2 = await readResponse(s, b);
    s.destroy();
    expect(r1.status).toBe(403);
    expect(r1.body).toContain('destination not allowed');
    expect(r2.status).toBe(502);
    expect(f.hooks.refusals.map((r) => r.reason)).toEqual(['not-allowed', 'connection-refused']);
  });

  test('onForward answering false refuses that request with 403 and never dials', async () => {
    const f = await startDoor();
    f.hooks.refusePaths.add('/secret');
    const s = await openRaw(f.port);
    const b = { buf: Buffer.alloc(0) };
    s.write(`GET http://127.0.0.1:${webA.port}/secret HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r1 = await readResponse(s, b);
    s.write(`GET http://127.0.0.1:${webA.port}/public HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r2 = await readResponse(s, b);
    s.destroy();
    expect(r1.status).toBe(403);
    expect(r1.body).toContain('refused by policy');
    expect(r2.status).toBe(200);
    expect(f.hooks.dials.map((d) => d.destination.port)).toEqual([webA.port]);
    expect(f.hooks.refusals.map((r) => r.reason)).toEqual(['not-allowed']);
  });

  test('curl -x through a basic-auth door: 407 then success', async () => {
    const f = await startDoor({ auth: 'basic' });
    const no = await curl(['-x', `http://127.0.0.1:${f.port}`, '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${webA.port}/`]);
    expect(no.stdout).toBe('407');
    const yes = await curl(['-x', `http://alice:s3cret@127.0.0.1:${f.port}`, `http://127.0.0.1:${webA.port}/ok`]);
    expect(yes.code).toBe(0);
    const facts = JSON.parse(yes.stdout) as { headers: Record<string, string> };
    // Credentials for the proxy never reach the origin.
    expect(facts.headers['proxy-authorization']).toBeUndefined();
    expect(f.hooks.forwards[0]?.user).toBe('alice');
  });

  test('400 for origin-form on the proxy port and for non-http targets; 405 for TRACE', async () => {
    const f = await startDoor();
    const a = await rawExchange(f.port, [Buffer.from('GET /local HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(a.data.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(a.data.toString()).toContain('origin-form');
    const b = await rawExchange(f.port, [Buffer.from('GET https://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(b.data.toString()).toMatch(/^HTTP\/1\.1 400 /);
    const c = await rawExchange(f.port, [Buffer.from(`TRACE http://127.0.0.1:${webA.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`)], 500);
    expect(c.data.toString()).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(c.data.toString()).toMatch(/\r\nAllow: GET, /);
    expect(f.hooks.dials).toHaveLength(0);
  });

  test('malformed request and oversized head -> 400 / 431 and close', async () => {
    const f = await startDoor({ maxHeaderBytes: 1024 });
    const a = await rawExchange(f.port, [Buffer.from('\x16\x03\x01garbage\r\n\r\n')]);
    expect(a.data.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(a.ended).toBe('closed');
    const big = `GET http://127.0.0.1:${webA.port}/ HTTP/1.1\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`;
    const b = await rawExchange(f.port, [Buffer.from(big)]);
    expect(b.data.toString()).toMatch(/^HTTP\/1\.1 431 /);
    expect(f.hooks.refusals.every((r) => r.reason === 'protocol-error')).toBe(true);
  });

  test('header timeout: a client that never finishes its head gets 408 and is closed', async () => {
    const f = await startDoor({ headerTimeoutMs: 300 });
    const t0 = Date.now();
    const ex = await rawExchange(f.port, [Buffer.from('GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n')], 4000);
    expect(ex.ended).toBe('closed');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(ex.data.toString()).toMatch(/^HTTP\/1\.1 408 /);
    expect(f.hooks.refusals[0]?.reason).toBe('timeout');
  });

  test('client not in allowlist is closed at accept', async () => {
    const f = await startDoor();
    f.hooks.clientAllowed = false;
    const ex = await rawExchange(f.port, [Buffer.from(`GET http://127.0.0.1:${webA.port}/ HTTP/1.1\r\n\r\n`)]);
    expect(ex.data.length).toBe(0);
    expect(ex.ended).toBe('closed');
    expect(f.hooks.refusals[0]?.reason).toBe('client-not-allowed');
  });
});

describe('HTTP door: timeouts and lifecycle', () => {
  test('origin that never answers -> 504 after upstreamTimeoutMs', async () => {
    const silent = net.createServer((sock) => sock.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const f = await startDoor({ upstreamTimeoutMs: 300 });
      const r = await curl(['-x', `http://127.0.0.1:${f.port}`, '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/slow`]);
      expect(r.stdout).toBe('504');
      expect(f.hooks.refusals[0]).toMatchObject({ reason: 'ttl-expired', req: { mode: 'forward' } });
    } finally {
      silent.close();
    }
  });

  test('close() stops accepting and resolves while a tunnel stays up', async () => {
    const f = await startDoor();
    const s = await openRaw(f.port);
    s.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`);
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    await until(() => got.startsWith('HTTP/1.1 200'));
    await f.door.close();
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port: f.port });
      c.on('connect', () => {
        c.destroy();
        resolve(false);
      });
      c.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    s.write('still-up');
    await until(() => got.endsWith('still-up'));
    s.destroy();
  });
});

