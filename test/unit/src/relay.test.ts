// Relay with real loopback sockets: a fake "door" accepts the client and hands
// both sockets to onTunnel, exactly as socks/ does after its handshake.
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../../src/admin/metrics';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { createDoorHooks, accessFromConfig, createRelay, dial, DestinationRules, TunnelTracker } from '../../../src/relay';
import { parseConfig } from '../../../src/config';
import type { TunnelRequest } from '../../../socks/types';
import { DialError } from '../../../socks/types';

const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});
const logger = pino({ level: 'info' }, sink);

const servers: net.Server[] = [];
const accepted = new Set<net.Socket>();
afterAll(async () => {
  for (const s of accepted) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted.add(s);
    s.once('close', () => accepted.delete(s));
    onConn(s);
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
}

function setup(idleMs = 5000) {
  const metrics = new Metrics({ defaultMetrics: false });
  const tracker = new TunnelTracker();
  const onTunnel = createRelay({ metrics, logger, tracker, idleTimeoutMs: () => idleMs });
  return { metrics, tracker, onTunnel };
}

let seq = 0;
/** Starts a door that relays every accepted client to `upstreamPort`; returns a connected client socket. */
async function tunnel(onTunnel: ReturnType<typeof setup>['onTunnel'], upstreamPort: number, head = Buffer.alloc(0)) {
  const doorPort = await listen((clientSide) => {
    clientSide.pause();
    const req: TunnelRequest = {
      id: `t-${++seq}`,
      door: 'socks5',
      mode: 'connect',
      client: { address: clientSide.remoteAddress ?? '', port: clientSide.remotePort ?? 0 },
      destination: { host: '127.0.0.1', port: upstreamPort, type: 'ipv4' },
    };
    dial(req, 2000).then((up) => onTunnel(req, clientSide, up, head));
  });
  const c = net.connect({ host: '127.0.0.1', port: doorPort, allowHalfOpen: true });
  await new Promise((r) => c.once('connect', r));
  return c;
}

function readAll(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('end', () => resolve(data));
    s.on('error', () => resolve(data));
  });
}
/**
 * Waits until the relay has torn the connection down: the socket is resumed
 * (a paused socket never sees the peer's FIN) and, being half-open capable,
 * ends its own side once the peer's FIN arrives, like a real client would.
 */
const closed = (s: net.Socket) =>
  new Promise<void>((r) => {
    s.resume();
    if (s.readableEnded) s.end();
    else s.once('end', () => s.end());
    if (s.closed) r();
    else s.once('close', () => r());
  });
async function metric(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const all = await m.registry.getMetricsAsJSON();
  const found = all.find((x) => x.name === name);
  const v = found?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v ? Number(v.value) : 0;
}
async function until(cond: () => boolean | Promise<boolean>, ms = 3000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('relay', () => {
  test('data flows both ways, head goes first, half-close propagates, bytes are counted', async () => {
    const { onTunnel, metrics, tracker } = setup();
    // Upstream: read everything until the client half-closes, then answer and close.
    const upPort = await listen((s) => {
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('end', () => s.end(`upstream saw: ${got}`));
    });
    const c = await tunnel(onTunnel, upPort, Buffer.from('HEAD|'));
    const reply = readAll(c);
    c.write('hello ');
    c.end('world');
    expect(await reply).toBe('upstream saw: HEAD|hello world');
    await closed(c);
    await until(() => tracker.size === 0);
    expect(await metric(metrics, 'imgate_bytes_total', { door: 'socks5', direction: 'up' })).toBe(16);
    expect(await metric(metrics, 'imgate_bytes_total', { door: 'socks5', direction: 'down' })).toBe('upstream saw: HEAD|hello world'.length);
    expect(await metric(metrics, 'imgate_connections_total', { door: 'socks5' })).toBe(1);
    expect(await metric(metrics, 'imgate_connections_active', { door: 'socks5' })).toBe(0);
  });

  test('upstream half-close still lets the client send', async () => {
    const { onTunnel } = setup();
    let upstreamGot = '';
    const upDone = new Promise<void>((resolve) => {
      void listen((s) => {
        s.end('bye');
        s.on('data', (d) => (upstreamGot += d.toString()));
        s.on('end', () => resolve());
      }).then((p) => (upPortHolder.port = p));
    });
    const upPortHolder = { port: 0 };
    await until(() => upPortHolder.port !== 0);
    const c = await tunnel(onTunnel, upPortHolder.port);
    const got = await new Promise<string>((resolve) => {
      let d = '';
      c.on('data', (x) => (d += x.toString()));
      c.on('end', () => resolve(d));
    });
    expect(got).toBe('bye');
    c.end('late data');
    await upDone;
    expect(upstreamGot).toBe('late data');
  });

  test('idle timeout tears down both sides', async () => {
    const { onTunnel, tracker } = setup(150);
    let upstreamSide: net.Socket | undefined;
    let upstreamSawEnd = false;
    const upPort = await listen((s) => {
      upstreamSide = s;
      s.on('error', () => undefined);
      s.on('end', () => (upstreamSawEnd = true));
      s.resume();
    });
    const c = await tunnel(onTunnel, upPort);
    c.on('error', () => undefined);
    const t0 = Date.now();
    await closed(c);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    await until(() => upstreamSide !== undefined && upstreamSawEnd);
    await until(() => tracker.size === 0);
    expect(lines.some((l) => l.msg === 'tunnel closed' && l.reason === 'idle timeout')).toBe(true);
  });

  test('an error on one side destroys both', async () => {
    const { onTunnel, tracker } = setup();
    const upPort = await listen((s) => {
      // Abortive close: RST reaches the relay as ECONNRESET on the upstream socket.
      setTimeout(() => s.resetAndDestroy(), 50);
    });
    const c = await tunnel(onTunnel, upPort);
    c.on('error', () => undefined);
    await closed(c);
    await until(() => tracker.size === 0);
  });

  test('drain: waitIdle resolves when tunnels finish, destroyAll ends the rest', async () => {
    const { onTunnel, tracker } = setup();
    const upPort = await listen((s) => s.on('error', () => undefined));
    const c = await tunnel(onTunnel, upPort);
    c.on('error', () => undefined);
    await until(() => tracker.size === 1);
    expect(await tracker.waitIdle(50)).toBe(false);
    const idle = tracker.waitIdle(2000);
    expect(tracker.destroyAll()).toBe(1);
    expect(await idle).toBe(true);
    await closed(c);
  });
});

describe('dial', () => {
  test('connection refused maps to connection-refused', async () => {
    const port = await listen(() => undefined);
    await new Promise((r) => servers.pop()?.close(r));
    const req: TunnelRequest = { id: 'd1', door: 'http', mode: 'connect', client: { address: '127.0.0.1', port: 1 }, destination: { host: '127.0.0.1', port, type: 'ipv4' } };
    const err = await dial(req, 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect((err as DialError).reason).toBe('connection-refused');
  });
});

describe('door hooks', () => {
  const config = parseConfig(
    {
      users: [{ name: 'alice', password: 'pw' }],
      access: {
        clients: ['127.0.0.0/8', '::1/128'],
        destinations: [
          { action: 'deny', ports: [25] },
          { action: 'deny', hosts: ['*.blocked.test'] },
          { action: 'allow', cidrs: ['127.0.0.0/8'], ports: ['1024-65535'] },
          { action: 'deny', cidrs: ['0.0.0.0/0', '::/0'] },
        ],
        default_destination: 'allow',
      },
    },
    null,
  );
  const metrics = new Metrics({ defaultMetrics: false });
  const policy = new PolicyStore(
    parsePolicy(
      {
        rules: [
          { id: 'no-chat-host', when: { kind: 'connection', host: ['chat.banned.test'] }, then: 'block' },
          { id: 'no-upload-url', when: { kind: 'http', url_matches: ['/upload\\b'] }, then: 'block' },
          { id: 'watch', when: { host: ['watched.test'] }, then: 'log' },
        ],
      },
      null,
    ),
  );
  const hooks = createDoorHooks({ access: () => accessFromConfig(config), policy, metrics, logger, onTunnel: () => undefined });
  const req = (host: string, port: number, type: 'ipv4' | 'ipv6' | 'domain' = 'domain'): TunnelRequest => ({
    id: 'h', door: 'socks5', mode: 'connect', client: { address: '127.0.0.1', port: 1 }, destination: { host, port, type },
  });

  test('allowClient uses access.clients, including mapped IPv6', () => {
    expect(hooks.allowClient('127.0.0.1')).toBe(true);
    expect(hooks.allowClient('::ffff:127.0.0.1')).toBe(true);
    expect(hooks.allowClient('::1')).toBe(true);
    expect(hooks.allowClient('10.0.0.1')).toBe(false);
    expect(hooks.allowClient('::ffff:10.0.0.1')).toBe(false);
  });

  test('authenticate checks users', () => {
    expect(hooks.authenticate('alice', 'pw')).toBe(true);
    expect(hooks.authenticate('alice', 'nope')).toBe(false);
    expect(hooks.authenticate('mallory', 'pw')).toBe(false);
  });

  test('allowDestination: ordered rules, ports, ranges, hosts, CIDRs, default', () => {
    expect(hooks.allowDestination(req('mail.test', 25))).toBe(false);
    expect(hooks.allowDestination(req('a.blocked.test', 443))).toBe(false);
    expect(hooks.allowDestination(req('127.0.0.1', 8080, 'ipv4'))).toBe(true);
    expect(hooks.allowDestination(req('127.0.0.1', 80, 'ipv4'))).toBe(false);
    expect(hooks.allowDestination(req('10.0.0.1', 8080, 'ipv4'))).toBe(false);
    expect(hooks.allowDestination(req('::1', 80, 'ipv6'))).toBe(false);
    expect(hooks.allowDestination(req('example.test', 443))).toBe(true);
    expect(new DestinationRules([], 'deny').allows({ host: 'x', port: 1, type: 'domain' })).toBe(false);
  });

  test('the policy decides a tunnel before the dial: block refuses, log allows and logs', async () => {
    expect(hooks.allowDestination(req('chat.banned.test', 5222))).toBe(false);
    expect(hooks.allowDestination(req('watched.test', 5222))).toBe(true);
    expect(hooks.allowDestination(req('ok.test', 5222))).toBe(true);
    expect(await metric(metrics, 'imgate_policy_verdicts_total', { action: 'block' })).toBe(1);
    expect(await metric(metrics, 'imgate_policy_verdicts_total', { action: 'log' })).toBe(1);
    expect(lines.some((l) => l.msg === 'blocked by policy' && l.rule === 'no-chat-host' && l.dest === 'chat.banned.test:5222')).toBe(true);
    expect(lines.some((l) => l.msg === 'policy log' && l.rule === 'watch')).toBe(true);
  });

  test('forwarded requests are decided by URL in onForward, not as connections', () => {
    const fwd = (path: string) => ({ ...req('127.0.0.1', 8080, 'ipv4'), door: 'http' as const, mode: 'forward' as const, method: 'POST', path });
    expect(hooks.allowDestination({ ...fwd('/upload'), destination: { host: 'chat.banned.test', port: 80, type: 'domain' } })).toBe(true);
    expect(hooks.onForward(fwd('/upload?x=1'))).toBe(false);
    expect(hooks.onForward(fwd('/uploads-list'))).toBe(true);
    expect(lines.some((l) => l.msg === 'blocked by policy' && l.rule === 'no-upload-url' && l.url === 'http://127.0.0.1:8080/upload?x=1')).toBe(true);
  });

  test('onRefused and onForward count metrics', async () => {
    const forwardsBefore = await metric(metrics, 'imgate_forward_requests_total', { door: 'http' });
    hooks.onRefused?.({ door: 'http', id: 'x' }, 'auth-failed', 'bad password');
    hooks.onForward({ ...req('example.test', 80), door: 'http', mode: 'forward', method: 'GET', path: '/' });
    expect(await metric(metrics, 'imgate_refusals_total', { door: 'http', reason: 'auth-failed' })).toBe(1);
    expect(await metric(metrics, 'imgate_forward_requests_total', { door: 'http' })).toBe(forwardsBefore + 1);
  });
});
