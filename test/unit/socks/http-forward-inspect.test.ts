// DoorHooks.inspectForward: the HTTP door holds a forwarded exchange's bodies
// for src/ and sends what the inspector returns, re-framed by length; bodies
// over the limit are refused before they are buffered; exchanges without an
// inspector stream as before.
import http from 'node:http';
import net from 'node:net';
import { createHttpProxyDoor } from '../../../socks/http-door';
import type { Door, DoorHooks, ForwardBodyInspector, ForwardedRequest } from '../../../socks/types';

jest.setTimeout(15000);

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let origin: http.Server;
let originPort = 0;
let door: Door;
let port = 0;
const seen: Array<{ body: string; headers: http.IncomingHttpHeaders }> = [];
let inspect: ((req: ForwardedRequest) => ForwardBodyInspector | undefined) | null = null;

beforeAll(async () => {
  origin = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString();
      seen.push({ body, headers: req.headers });
      // Chunked on purpose: the door must re-frame a held response by length.
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('echo:');
      res.end(body);
    });
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originPort = (origin.address() as net.AddressInfo).port;
  const hooks: DoorHooks = {
    allowClient: () => true,
    authenticate: () => true,
    allowDestination: () => true,
    dial: (req) =>
      new Promise((resolve, reject) => {
        const s = net.connect(req.destination.port, req.destination.host, () => resolve(s));
        s.once('error', reject);
      }),
    onTunnel: (_r, c, u) => {
      c.destroy();
      u.destroy();
    },
    inspectForward: (req) => inspect?.(req),
  };
  door = createHttpProxyDoor({ host: '127.0.0.1', port: 0, auth: 'none', realm: 'r', headerTimeoutMs: 2000, maxHeaderBytes: 8192, keepAliveTimeoutMs: 1000, hooks, logger: quiet });
  port = (await door.listen()).port;
});

afterAll(async () => {
  await door.close();
  await new Promise<void>((r) => origin.close(() => r()));
});

function post(body: string, chunked = false): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `http://127.0.0.1:${originPort}/http-bind`, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    if (chunked) {
      req.write(body.slice(0, 3));
      req.end(body.slice(3));
    } else req.end(body);
  });
}

test('without an inspector the exchange streams untouched', async () => {
  inspect = () => undefined;
  const r = await post('hello');
  expect(r).toMatchObject({ status: 200, body: 'echo:hello' });
  expect(r.headers['transfer-encoding']).toBe('chunked');
});

test('held bodies: the request and response the inspector returns are what arrive, framed by Content-Length', async () => {
  const calls: string[] = [];
  inspect = (req) => {
    calls.push(`${req.method} ${req.path}`);
    return {
      maxBodyBytes: 1024,
      holdRequest: true,
      request: (b) => Buffer.from(b.toString().replace('secret', '******')),
      holdResponse: (status) => status === 200,
      response: (b) => Buffer.concat([b, Buffer.from('+owed')]),
    };
  };
  const r = await post('my secret text', true);
  expect(seen.at(-1)?.body).toBe('my ****** text');
  expect(seen.at(-1)?.headers['content-length']).toBe('14');
  expect(seen.at(-1)?.headers['transfer-encoding']).toBeUndefined();
  expect(r).toMatchObject({ status: 200, body: 'echo:my ****** text+owed' });
  expect(r.headers['content-length']).toBe(String('echo:my ****** text+owed'.length));
  expect(calls).toEqual(['POST /http-bind']);
});

test('a request body over the limit is refused with 413 and never reaches the origin', async () => {
  inspect = () => ({ maxBodyBytes: 8, holdRequest: true, request: (b) => b, holdResponse: () => false, response: (b) => b });
  const before = seen.length;
  const r = await post('x'.repeat(64));
  expect(r.status).toBe(413);
  expect(seen.length).toBe(before);
});

test('an inspector that throws fails the exchange with 502, the door keeps serving', async () => {
  inspect = () => ({
    maxBodyBytes: 1024,
    holdRequest: true,
    request: () => {
      throw new Error('boom');
    },
    holdResponse: () => false,
    response: (b) => b,
  });
  expect((await post('x')).status).toBe(502);
  inspect = () => undefined;
  expect(await post('again')).toMatchObject({ status: 200, body: 'echo:again' });
});
