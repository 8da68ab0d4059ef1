// Redirect listeners with real loopback sockets, the gateway's real DoorHooks
// (createDoorHooks: allowlist, destination rules, policy, dial) and relay:
// a client connects as if the listener were its server, and the bytes reach
// the upstream the first bytes (or the config) name, unchanged.
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../../src/admin/metrics';
import { parseConfig, parseYaml } from '../../../src/config';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { accessFromConfig, createDoorHooks, createRelay, TunnelTracker } from '../../../src/relay';
import { createRedirectListeners, redirectSettingsFromConfig, type BoundAddress, type RedirectListener } from '../../../src/redirect';

type LogLine = Record<string, unknown> & { msg?: string };

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const listeners: RedirectListener[] = [];

afterAll(async () => {
  for (const l of listeners) await l.close();
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** A local upstream server; records what it receives, optionally greets first. */
async function upstream(greeting?: string): Promise<{ port: number; got: () => string; conns: () => number }> {
  let data = '';
  let n = 0;
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    n++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    if (greeting) s.write(greeting);
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      s.write(`echo:${d.toString('latin1')}`);
    });
    s.on('end', () => s.end());
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, got: () => data, conns: () => n };
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Rig {
  port: number;
  lines: LogLine[];
  metrics: Metrics;
  refused: () => LogLine[];
}

/** One gateway-like wiring with one redirect listener built from `redirect` config. */
async function rig(redirect: Record<string, unknown>, opts: { policy?: string; access?: Record<string, unknown>; own?: BoundAddress[] } = {}): Promise<Rig> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const config = parseConfig({ redirect, access: opts.access ?? {}, tunnel: { connect_timeout_ms: 2000 } }, null);
  const metrics = new Metrics({ defaultMetrics: false });
  const policy = new PolicyStore(parsePolicy(parseYaml(opts.policy ?? 'default: allow\nrules: []\n', null), null));
  const access = accessFromConfig(config);
  const onTunnel = createRelay({ metrics, logger, tracker: new TunnelTracker(), idleTimeoutMs: () => 5000 });
  const hooks = createDoorHooks({ access: () => access, policy, metrics, logger, onTunnel });
  const settings = redirectSettingsFromConfig(config);
  const own: BoundAddress[] = [...(opts.own ?? [])];
  const [l] = createRedirectListeners(config, { hooks, logger, settings: () => settings, ownAddresses: () => own });
  const listener = l as RedirectListener;
  listeners.push(listener);
  const addr = await listener.listen();
  own.push(addr);
  return { port: addr.port, lines, metrics, refused: () => lines.filter((x) => x.msg === 'redirect refused') };
}

/** Connects, sends `parts` (with a pause between), resolves with all it reads until the gateway closes. */
function talk(port: number, parts: string[], opts: { endAfter?: boolean; readUntil?: string } = {}): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    sockets.add(c);
    let got = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      resolve(got);
    };
    c.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (opts.readUntil !== undefined && got.includes(opts.readUntil)) finish();
    });
    c.on('end', finish);
    c.on('close', finish);
    c.on('error', finish);
    c.once('connect', async () => {
      for (const p of parts) {
        c.write(p);
        await new Promise((r) => setTimeout(r, 15));
      }
      if (opts.endAfter) c.end();
    });
    const timer = setTimeout(finish, 4000);
  });
}

const XMPP_OPEN = "<?xml version='1.0'?><stream:stream to='imgate.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

async function counter(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v ? Number(v.value) : 0;
}

describe('destination from the first bytes', () => {
  test('XMPP to= goes to the upstream the map names; every byte arrives unchanged, split or not', async () => {
    const up = await upstream();
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }], upstreams: { 'imgate.test': `127.0.0.1:${up.port}` } });
    const split = [XMPP_OPEN.slice(0, 17), XMPP_OPEN.slice(17, 60), XMPP_OPEN.slice(60), '<auth/>'];
    const back = await talk(r.port, split, { readUntil: 'echo:<auth/>' });
    expect(up.got()).toBe(XMPP_OPEN + '<auth/>');
    expect(back).toContain('echo:<auth/>');
    expect(await counter(r.metrics, 'imgate_connections_total', { door: 'redirect' })).toBe(1);
    expect(r.refused()).toEqual([]);
  });

  test('HTTP Host and its port select the upstream; the request and its body arrive unchanged', async () => {
    const up = await upstream();
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 }, protocol: 'http' }], upstreams: { 'origin.test:8080': `127.0.0.1:${up.port}` } });
    const req = 'POST /x HTTP/1.1\r\nHost: Origin.Test:8080\r\nContent-Length: 3\r\n\r\nabc';
    await talk(r.port, [req.slice(0, 30), req.slice(30)], { readUntil: 'abc' });
    expect(up.got()).toBe(req);
  });

  test('a fixed upstream takes what names no server (auto: IRC bytes)', async () => {
    const up = await upstream();
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 }, upstream: `127.0.0.1:${up.port}` }] });
    await talk(r.port, ['NICK alice\r\n', 'USER a 0 * :A\r\n'], { readUntil: 'USER' });
    expect(up.got()).toBe('NICK alice\r\nUSER a 0 * :A\r\n');
  });

  test('protocol irc dials its upstream at once: a server that speaks first is heard by a silent client', async () => {
    const up = await upstream(':irc.test NOTICE * :*** Looking up your hostname\r\n');
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 }, protocol: 'irc', upstream: `127.0.0.1:${up.port}` }] });
    const back = await talk(r.port, [], { readUntil: 'hostname' });
    expect(back).toBe(':irc.test NOTICE * :*** Looking up your hostname\r\n');
  });

  test('auto with a fixed upstream: a silent client is connected after head_timeout_ms (server-first protocols)', async () => {
    const up = await upstream('220 hello\r\n');
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 }, upstream: `127.0.0.1:${up.port}` }], head_timeout_ms: 100 });
    const started = Date.now();
    const back = await talk(r.port, [], { readUntil: 'hello' });
    expect(back).toBe('220 hello\r\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  test('a TLS listener forwards a ClientHello whose SNI the map names', async () => {
    const up = await upstream();
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 }, protocol: 'tls' }], upstreams: { 'chat.test': `127.0.0.1:${up.port}` } });
    const tls = await import('node:tls');
    const c = tls.connect({ host: '127.0.0.1', port: r.port, servername: 'chat.test', rejectUnauthorized: false });
    c.on('error', () => {});
    for (let i = 0; i < 100 && up.conns() === 0; i++) await new Promise((res) => setTimeout(res, 20));
    for (let i = 0; i < 50 && up.got().length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    c.destroy();
    expect(up.conns()).toBe(1);
    expect(up.got().charCodeAt(0)).toBe(0x16);
    expect(up.got()).toContain('chat.test');
  });
});

describe('refusals, limits, loop protection', () => {
  test('no destination: the connection is closed with a logged reason', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }] });
    const back = await talk(r.port, ['NICK alice\r\n']);
    expect(back).toBe('');
    expect(r.refused()).toEqual([expect.objectContaining({ door: 'redirect', reason: 'protocol-error', detail: 'no destination: "NICK" is not an HTTP request' })]);
    expect(await counter(r.metrics, 'imgate_refusals_total', { door: 'redirect', reason: 'protocol-error' })).toBe(1);
  });

  test('XMPP without to= and no upstream: a stream error the client can read', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }] });
    const back = await talk(r.port, ["<stream:stream version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"]);
    expect(back).toContain("<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    expect(back).toContain('no destination: stream header without to=');
    expect(back).toMatch(/<\/stream:stream>$/);
  });

  test('head over max_head_bytes: refused without reading further', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }], max_head_bytes: 256, upstreams: { 'late.test': '127.0.0.1:1' } });
    const back = await talk(r.port, [`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(400)}\r\nHost: late.test\r\n\r\n`]);
    expect(back).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(r.refused()[0]).toMatchObject({ reason: 'protocol-error', detail: 'no destination: no server name in the first 256 bytes' });
  });

  test('silent client, no fixed upstream: closed after head_timeout_ms', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }], head_timeout_ms: 80 });
    const started = Date.now();
    expect(await talk(r.port, [])).toBe('');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.refused()[0]).toMatchObject({ reason: 'timeout', detail: 'no destination: no server name within 80 ms' });
  });

  test('a client that sends part of a header then closes is dropped with a reason', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }] });
    await talk(r.port, ['<stream:stream to='], { endAfter: true });
    for (let i = 0; i < 50 && r.refused().length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(r.refused()[0]).toMatchObject({ reason: 'protocol-error', detail: 'client closed before naming a server' });
  });

  test('loop: a name mapped to the listener itself is never dialed', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }] });
    // The map is read per connection; point imgate.test at this very listener.
    const r2 = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }], upstreams: { 'imgate.test': `127.0.0.1:${r.port}` } }, { own: [{ address: '127.0.0.1', port: r.port }] });
    const back = await talk(r2.port, [XMPP_OPEN]);
    expect(back).toContain('policy-violation');
    expect(r2.refused()[0]).toMatchObject({ reason: 'not-allowed', detail: `loop: 127.0.0.1:${r.port} is the gateway itself` });
    expect(r.lines.filter((l) => l.msg === 'redirect refused')).toEqual([]);
  });

  test('loop: an unmapped name that resolves to the gateway is caught after the dial', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 }, protocol: 'http' }] });
    const back = await talk(r.port, [`GET / HTTP/1.1\r\nHost: localhost:${r.port}\r\n\r\n`]);
    expect(back).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(r.refused()[0]).toMatchObject({ reason: 'not-allowed', detail: expect.stringMatching(/^loop: the upstream for localhost is the gateway itself/) });
  });

  test('client allowlist: a client outside access.clients is dropped', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }] }, { access: { clients: ['10.0.0.0/8'] } });
    expect(await talk(r.port, [XMPP_OPEN])).toBe('');
    expect(r.refused()[0]).toMatchObject({ reason: 'client-not-allowed' });
  });

  test('destination rules apply to the name the client asked for, not the mapped upstream', async () => {
    const up = await upstream();
    const r = await rig(
      { listeners: [{ listen: { host: '127.0.0.1', port: 0 }, protocol: 'http' }], upstreams: { 'blocked.test': `127.0.0.1:${up.port}`, 'ok.test': `127.0.0.1:${up.port}` } },
      { access: { destinations: [{ action: 'deny', hosts: ['blocked.test'] }] } },
    );
    const back = await talk(r.port, ['GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n']);
    expect(back).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(up.conns()).toBe(0);
    expect(r.refused()[0]).toMatchObject({ reason: 'not-allowed', dest: `blocked.test:${r.port}`, upstream: `127.0.0.1:${up.port}` });
    await talk(r.port, ['GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n'], { readUntil: 'echo:' });
    expect(up.conns()).toBe(1);
  });

  test('the policy decides before the dial (door: redirect, host)', async () => {
    const up = await upstream();
    const policy = 'default: allow\nrules:\n  - { id: no-redirect-xmpp, when: { door: [redirect], host: ["imgate.test"] }, then: block }\n';
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }], upstreams: { 'imgate.test': `127.0.0.1:${up.port}` } }, { policy });
    const back = await talk(r.port, [XMPP_OPEN]);
    expect(back).toContain('policy-violation');
    expect(up.conns()).toBe(0);
    expect(r.lines.find((l) => l.msg === 'blocked by policy')).toMatchObject({ door: 'redirect', rule: 'no-redirect-xmpp', dest: `imgate.test:${r.port}` });
  });

  test('an upstream that refuses: HTTP 502 to the client, reason logged', async () => {
    const dead = await closedPort();
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }], upstreams: { 'down.test': `127.0.0.1:${dead}` } });
    const back = await talk(r.port, ['GET / HTTP/1.1\r\nHost: down.test\r\n\r\n']);
    expect(back).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(r.refused()[0]).toMatchObject({ reason: 'connection-refused' });
  });

  test('close() drops connections still reading their head', async () => {
    const r = await rig({ listeners: [{ listen: { host: '127.0.0.1', port: 0 } }] });
    const l = listeners[listeners.length - 1] as RedirectListener;
    const pending = talk(r.port, ['<stream:stream']);
    for (let i = 0; i < 50 && l.pending() === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(l.pending()).toBe(1);
    await l.close();
    expect(await pending).toBe('');
    expect(l.pending()).toBe(0);
  });
});
