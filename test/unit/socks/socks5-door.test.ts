import net from 'node:net';
import crypto from 'node:crypto';
import { SocksClient } from 'socks';
import * as socksv5 from 'socksv5';
import { createSocks5Door } from '../../../socks/socks5-door';
import type { RefusalReason } from '../../../socks/types';
import { curl, deadPort, DoorSet, pattern, rawExchange, sha256, startEchoOrigin, startHttpOrigin, until } from './helpers';
import type { DoorFixture } from './helpers';

jest.setTimeout(15000);

const GREET_NONE = Buffer.from([5, 1, 0]);
const METHOD_NONE = Buffer.from([5, 0]);

function connectReq(host: string, port: number): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  if (net.isIPv4(host)) return Buffer.concat([Buffer.from([5, 1, 0, 1]), Buffer.from(host.split('.').map(Number)), p]);
  const name = Buffer.from(host, 'latin1');
  return Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, p]);
}

function refusal(code: number): Buffer {
  return Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
}


const doors = new DoorSet();
function startDoor(auth: 'none' | 'userpass' = 'none', handshakeTimeoutMs = 2000): Promise<DoorFixture> {
  return doors.start((hooks, logger) => createSocks5Door({ host: '127.0.0.1', port: 0, auth, handshakeTimeoutMs, hooks, logger }));
}

let echo: Awaited<ReturnType<typeof startEchoOrigin>>;
let echo6: Awaited<ReturnType<typeof startEchoOrigin>>;
let web: Awaited<ReturnType<typeof startHttpOrigin>>;

beforeAll(async () => {
  echo = await startEchoOrigin();
  echo6 = await startEchoOrigin('::1');
  web = await startHttpOrigin('web');
});

afterAll(async () => {
  await doors.closeAll();
  await echo.close();
  await echo6.close();
  await web.close();
});

describe('SOCKS5 door: CONNECT success', () => {
  test('socks client relays data both ways; reply carries the real bound address', async () => {
    const f = await startDoor();
    const { socket, remoteHost } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: f.port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    });
    // BND.ADDR:BND.PORT is the upstream socket's local end, i.e. what the
    // origin sees as its peer.
    expect(remoteHost?.host).toBe('127.0.0.1');
    const peerPorts = [...echo.sockets].map((s) => s.remotePort);
    expect(peerPorts).toContain(remoteHost?.port);
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.write('ping-1 ');
    socket.write('ping-2');
    await until(() => Buffer.concat(got).toString() === 'ping-1 ping-2');
    socket.destroy();
    expect(f.hooks.tunnels).toHaveLength(1);
    expect(f.hooks.tunnels[0]).toMatchObject({ door: 'socks5', mode: 'connect', destination: { host: '127.0.0.1', port: echo.port, type: 'ipv4' } });
    expect(f.hooks.tunnels[0]?.id).toMatch(/^s5-\d+$/);
    expect(f.door.pending()).toBe(0);
    // Success is not logged above debug (hot path).
    expect(f.logger.lines.filter((l) => l.level !== 'debug')).toHaveLength(0);
  });

  test('8 MiB each way through the tunnel keeps its sha256', async () => {
    const f = await startDoor();
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: f.port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    });
    const data = pattern(8 * 1024 * 1024 + 7);
    const h = crypto.createHash('sha256');
    let n = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
        if (n >= data.length) resolve();
      });
    });
    socket.end(data);
    await done;
    socket.destroy();
    expect(n).toBe(data.length);
    expect(h.digest('hex')).toBe(sha256(data));
  });

  test('close() destroys handshakes in progress and stops accepting', async () => {
    const f = await startDoor();
    const s = net.connect({ host: '127.0.0.1', port: f.port });
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => undefined);
    s.write(Buffer.from([5]));
    await until(() => f.door.pending() === 1);
    const closed = new Promise((r) => s.once('close', r));
    await f.door.close();
    await closed;
    expect(f.door.pending()).toBe(0);
    const ex = await rawExchange(f.port, [GREET_NONE], 500);
    expect(ex.data.length).toBe(0);
    expect(ex.ended).toBe('closed');
  });

  test('greeting + request + payload in one write: payload reaches upstream (head)', async () => {
    const f = await startDoor();
    const payload = Buffer.from('early-bytes-sent-before-any-reply');
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('127.0.0.1', echo.port), payload])], 800);
    expect(ex.data.subarray(0, 2)).toEqual(METHOD_NONE);
    expect(ex.data.subarray(2, 6)).toEqual(Buffer.from([5, 0, 0, 1]));
    expect(ex.data.subarray(6, 10)).toEqual(Buffer.from([127, 0, 0, 1]));
    expect(ex.data.subarray(12).toString()).toBe(payload.toString());
  });

  test('bytes the client sends while the door is still dialing are not lost', async () => {
    const f = await startDoor();
    f.hooks.dialDelayMs = 200;
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('127.0.0.1', echo.port), Buffer.from('A')]), Buffer.from('B'), Buffer.from('C')], 800);
    expect(ex.data.subarray(0, 4)).toEqual(Buffer.from([5, 0, 5, 0]));
    expect(ex.data.subarray(12).toString()).toBe('ABC');
  });

  test('byte-at-a-time handshake still works', async () => {
    const f = await startDoor();
    const all = Buffer.concat([GREET_NONE, connectReq('127.0.0.1', echo.port), Buffer.from('x')]);
    const parts = [...all].map((b) => Buffer.from([b]));
    const ex = await rawExchange(f.port, parts, 1500);
    expect(ex.data.length).toBe(13);
    expect(ex.data.subarray(12).toString()).toBe('x');
  });

  test("domain ATYP 'localhost' is passed as a domain and dialed", async () => {
    const f = await startDoor();
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: f.port, type: 5 },
      command: 'connect',
      destination: { host: 'localhost', port: echo.port },
    });
    socket.destroy();
    expect(f.hooks.tunnels[0]?.destination).toEqual({ host: 'localhost', port: echo.port, type: 'domain' });
  });

  test('IPv6 literal ::1 is parsed and relayed', async () => {
    const f = await startDoor();
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: f.port, type: 5 },
      command: 'connect',
      destination: { host: '::1', port: echo6.port },
    });
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.write('v6');
    await until(() => Buffer.concat(got).toString() === 'v6');
    socket.destroy();
    expect(f.hooks.tunnels[0]?.destination).toEqual({ host: '::1', port: echo6.port, type: 'ipv6' });
  });

  test('IPv6 with zero runs is formatted canonically (2001:db8::100)', async () => {
    const f = await startDoor();
    f.hooks.denyHosts.add('2001:db8::100');
    const addr = Buffer.from('20010db8000000000000000000000100', 'hex');
    const req = Buffer.concat([Buffer.from([5, 1, 0, 4]), addr, Buffer.from([0, 80])]);
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, req])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(2)]));
    expect(f.hooks.refusals[0]?.req.destination).toEqual({ host: '2001:db8::100', port: 80, type: 'ipv6' });
  });

  test('curl --socks5-hostname and --socks5 fetch through the door', async () => {
    const f = await startDoor();
    const a = await curl(['--socks5-hostname', `127.0.0.1:${f.port}`, `http://localhost:${web.port}/via-hostname`]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ origin: 'web', method: 'GET', url: '/via-hostname' });
    const b = await curl(['--socks5', `127.0.0.1:${f.port}`, `http://127.0.0.1:${web.port}/via-ip`]);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ url: '/via-ip' });
    expect(f.hooks.tunnels.map((t) => t.destination.type)).toEqual(['domain', 'ipv4']);
  });
});

describe('SOCKS5 door: refusals are full RFC 1928 replies', () => {
  test('destination refused by rules -> 0x02', async () => {
    const f = await startDoor();
    f.hooks.denyHosts.add('127.0.0.1');
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('127.0.0.1', echo.port)])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(2)]));
    expect(ex.ended).toBe('closed');
    expect(f.hooks.dials).toHaveLength(0);
    expect(f.hooks.refusals[0]).toMatchObject({ reason: 'not-allowed', req: { id: expect.stringMatching(/^s5-/), destination: { host: '127.0.0.1' } } });
    const line = f.logger.lines.find((l) => l.obj.reason === 'not-allowed');
    expect(line?.obj).toMatchObject({ conn: expect.any(String), client: '127.0.0.1', dest: `127.0.0.1:${echo.port}` });
  });

  const dialCases: Array<[RefusalReason, number]> = [
    ['general-failure', 1],
    ['not-allowed', 2],
    ['network-unreachable', 3],
    ['host-unreachable', 4],
    ['connection-refused', 5],
    ['ttl-expired', 6],
  ];
  test.each(dialCases)('DialError %s -> 0x0%d', async (reason, code) => {
    const f = await startDoor();
    f.hooks.failDialWith = reason;
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('127.0.0.1', echo.port)])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(code)]));
    expect(ex.ended).toBe('closed');
    expect(f.hooks.refusals[0]?.reason).toBe(reason);
  });

  test('a real refused connect (errno ECONNREFUSED, no DialError) -> 0x05', async () => {
    const f = await startDoor();
    const port = await deadPort();
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('127.0.0.1', port)])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(5)]));
  });

  test.each([
    ['BIND', 2],
    ['UDP ASSOCIATE', 3],
    ['unknown 0x09', 9],
  ])('command %s -> 0x07', async (_name, cmd) => {
    const f = await startDoor();
    const req = Buffer.from([5, cmd, 0, 1, 127, 0, 0, 1, 0, 80]);
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, req])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(7)]));
    expect(f.hooks.refusals[0]?.reason).toBe('command-not-supported');
  });

  test('address type 0x05 -> 0x08', async () => {
    const f = await startDoor();
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, Buffer.from([5, 1, 0, 5, 1, 2, 3, 4, 0, 80])])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(8)]));
  });

  test('malformed domain name -> 0x01', async () => {
    const f = await startDoor();
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('bad host\r\n', 80)])]);
    expect(ex.data).toEqual(Buffer.concat([METHOD_NONE, refusal(1)]));
  });

  test('no acceptable method -> 05 FF and close', async () => {
    const f = await startDoor();
    const ex = await rawExchange(f.port, [Buffer.from([5, 2, 0x01, 0x02])]);
    expect(ex.data).toEqual(Buffer.from([5, 0xff]));
    expect(ex.ended).toBe('closed');
  });

  test('SOCKS4 request -> closed without reply, reason logged', async () => {
    const f = await startDoor();
    const ex = await rawExchange(f.port, [Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0])]);
    expect(ex.data.length).toBe(0);
    expect(ex.ended).toBe('closed');
    expect(f.hooks.refusals[0]).toMatchObject({ reason: 'protocol-error', detail: expect.stringContaining('SOCKS4') });
    expect(f.logger.lines.some((l) => l.obj.reason === 'protocol-error' && String(l.obj.detail).includes('SOCKS4'))).toBe(true);
  });

  test('garbage (an HTTP request) -> closed without reply', async () => {
    const f = await startDoor();
    const ex = await rawExchange(f.port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(ex.data.length).toBe(0);
    expect(ex.ended).toBe('closed');
    expect(f.hooks.refusals[0]?.detail).toMatch(/version/);
  });

  test('handshake timeout closes a silent or dripping client', async () => {
    const f = await startDoor('none', 300);
    const t0 = Date.now();
    const ex = await rawExchange(f.port, [Buffer.from([5])], 3000);
    expect(ex.ended).toBe('closed');
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(f.hooks.refusals[0]?.reason).toBe('timeout');
    expect(f.door.pending()).toBe(0);
  });

  test('client not in allowlist is closed at accept', async () => {
    const f = await startDoor();
    f.hooks.clientAllowed = false;
    const ex = await rawExchange(f.port, [Buffer.concat([GREET_NONE, connectReq('127.0.0.1', echo.port)])]);
    expect(ex.data.length).toBe(0);
    expect(ex.ended).toBe('closed');
    expect(f.hooks.refusals[0]).toMatchObject({ reason: 'client-not-allowed', req: { client: { address: '127.0.0.1' } } });
    expect(f.hooks.dials).toHaveLength(0);
  });

  test('pending() counts connections in handshake', async () => {
    const f = await startDoor();
    const s = net.connect({ host: '127.0.0.1', port: f.port });
    await new Promise((r) => s.once('connect', r));
    s.write(Buffer.from([5, 1]));
    await until(() => f.door.pending() === 1);
    s.destroy();
    await until(() => f.door.pending() === 0);
  });
});

describe('SOCKS5 door: RFC 1929 user/password', () => {
  test('good credentials: socks client connects, user attached to the TunnelRequest', async () => {
    const f = await startDoor('userpass');
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: f.port, type: 5, userId: 'alice', password: 's3cret' },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    });
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.write('authed');
    await until(() => Buffer.concat(got).toString() === 'authed');
    socket.destroy();
    expect(f.hooks.tunnels[0]?.user).toBe('alice');
    expect(f.hooks.dials[0]?.user).toBe('alice');
  });

  test('curl with user:pass@ works', async () => {
    const f = await startDoor('userpass');
    const r = await curl(['--socks5-hostname', `alice:s3cret@127.0.0.1:${f.port}`, `http://127.0.0.1:${web.port}/auth`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ url: '/auth' });
  });

  test('bad password -> 01 01 and close, logged with the user', async () => {
    const f = await startDoor('userpass');
    const auth = Buffer.concat([Buffer.from([1, 5]), Buffer.from('alice'), Buffer.from([5]), Buffer.from('wrong')]);
    const ex = await rawExchange(f.port, [Buffer.from([5, 1, 2]), auth, connectReq('127.0.0.1', echo.port)]);
    expect(ex.data).toEqual(Buffer.from([5, 2, 1, 1]));
    expect(ex.ended).toBe('closed');
    expect(f.hooks.refusals[0]).toMatchObject({ reason: 'auth-failed', req: { user: 'alice' } });
    expect(f.hooks.dials).toHaveLength(0);
  });

  test('greeting + auth + request + payload in one write', async () => {
    const f = await startDoor('userpass');
    const auth = Buffer.concat([Buffer.from([1, 5]), Buffer.from('alice'), Buffer.from([6]), Buffer.from('s3cret')]);
    const all = Buffer.concat([Buffer.from([5, 2, 0, 2]), auth, connectReq('127.0.0.1', echo.port), Buffer.from('payload!')]);
    const ex = await rawExchange(f.port, [all], 800);
    expect(ex.data.subarray(0, 4)).toEqual(Buffer.from([5, 2, 1, 0]));
    expect(ex.data.subarray(4, 8)).toEqual(Buffer.from([5, 0, 0, 1]));
    expect(ex.data.subarray(14).toString()).toBe('payload!');
  });

  test('offering only "no auth" to a userpass door -> 05 FF', async () => {
    const f = await startDoor('userpass');
    const ex = await rawExchange(f.port, [GREET_NONE]);
    expect(ex.data).toEqual(Buffer.from([5, 0xff]));
    expect(ex.ended).toBe('closed');
  });

  test('socks client without credentials is refused', async () => {
    const f = await startDoor('userpass');
    await expect(
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: f.port, type: 5 },
        command: 'connect',
        destination: { host: '127.0.0.1', port: echo.port },
        timeout: 3000,
      }),
    ).rejects.toThrow();
  });
});

describe('SOCKS5 door: socksv5 package client (a second, independent implementation)', () => {
  function v5connect(port: number, auths: socksv5.AuthHandler[], dstPort: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      // socksv5 quirk: the proxy port is only taken from the constructor and
      // the proxy host only from connect() (see types/socksv5.d.ts).
      const c = new socksv5.Client({ auths, proxyHost: '127.0.0.1', proxyPort: port });
      c.on('error', reject);
      c.connect({ host: '127.0.0.1', port: dstPort, proxyHost: '127.0.0.1' }, resolve);
    });
  }

  test('no-auth and user/password connects relay data', async () => {
    const open = await startDoor();
    const s1 = await v5connect(open.port, [socksv5.auth.None()], echo.port);
    const got: Buffer[] = [];
    s1.on('data', (c: Buffer) => got.push(c));
    s1.write('via socksv5');
    await until(() => Buffer.concat(got).toString() === 'via socksv5');
    s1.destroy();

    const authed = await startDoor('userpass');
    const s2 = await v5connect(authed.port, [socksv5.auth.UserPassword('alice', 's3cret')], echo.port);
    s2.destroy();
    expect(authed.hooks.tunnels[0]?.user).toBe('alice');
    await expect(v5connect(authed.port, [socksv5.auth.UserPassword('alice', 'bad')], echo.port)).rejects.toMatchObject({ code: 'EAUTHFAILED' });
  });
});
