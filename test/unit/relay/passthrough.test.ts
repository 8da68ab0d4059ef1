// The passthrough relay with real loopback sockets, through createRelay as a
// door uses it: bulk in both directions with slow readers (so dst pushes
// back and each direction upgrades to the reused read buffer) must arrive
// byte-identical and in order; half-close, idle timeout and byte counts must
// keep working after the upgrade; an interactive tunnel must never upgrade.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import pino from 'pino';
import { Metrics } from '../../../src/admin/metrics';
import { createRelay, dial, isUpgraded, TunnelTracker, userBufferAvailable } from '../../../src/relay';
import type { TunnelRequest } from '../../../socks/types';

const logger = pino({ level: 'silent' });
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    onConn(s);
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
}

interface Relayed { client: net.Socket; relayClient: Promise<net.Socket>; relayUpstream: Promise<net.Socket> }

/** A door that relays every client to upstreamPort through createRelay; the relay's own sockets are exposed. */
async function tunnel(upstreamPort: number, idleMs = 5000): Promise<Relayed & { metrics: Metrics; tracker: TunnelTracker }> {
  const metrics = new Metrics({ defaultMetrics: false });
  const tracker = new TunnelTracker();
  const onTunnel = createRelay({ metrics, logger, tracker, idleTimeoutMs: () => idleMs });
  let gotClient!: (s: net.Socket) => void;
  let gotUp!: (s: net.Socket) => void;
  const relayClient = new Promise<net.Socket>((r) => (gotClient = r));
  const relayUpstream = new Promise<net.Socket>((r) => (gotUp = r));
  const doorPort = await listen((clientSide) => {
    clientSide.pause();
    const req: TunnelRequest = {
      id: 'p1', door: 'socks5', mode: 'connect',
      client: { address: clientSide.remoteAddress ?? '', port: clientSide.remotePort ?? 0 },
      destination: { host: '127.0.0.1', port: upstreamPort, type: 'ipv4' },
    };
    void dial(req, 2000).then((up) => {
      sockets.add(up);
      gotClient(clientSide);
      gotUp(up);
      onTunnel(req, clientSide, up, Buffer.alloc(0));
    });
  });
  const client = net.connect({ host: '127.0.0.1', port: doorPort, allowHalfOpen: true });
  sockets.add(client);
  await new Promise((r) => client.once('connect', r));
  return { client, relayClient, relayUpstream, metrics, tracker };
}

/** Sends `data` in uneven writes (so chunk borders never line up with reads) and optionally ends. */
function send(s: net.Socket, data: Buffer, end: boolean): void {
  let off = 0;
  let n = 1;
  const pump = (): void => {
    while (off < data.length) {
      const len = Math.min(data.length - off, 1000 + ((n++ * 7919) % 300000));
      const ok = s.write(data.subarray(off, off + len));
      off += len;
      if (!ok) { s.once('drain', pump); return; }
    }
    if (end) s.end();
  };
  pump();
}

/** Reads everything until 'end', stalling at the start and now and then so the relay's writes back up. */
function slowRead(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    let nextStall = 2 << 20;
    s.pause();
    setTimeout(() => s.resume(), 150);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= nextStall) {
        nextStall += 3 << 20;
        s.pause();
        setTimeout(() => s.resume(), 40);
      }
    });
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function metric(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const all = await m.registry.getMetricsAsJSON();
  const v = all.find((x) => x.name === name)?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v ? Number(v.value) : 0;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('passthrough relay', () => {
  test('this Node offers the reused-buffer path (else the relay is a plain pipe)', () => {
    expect(userBufferAvailable()).toBe(true);
  });

  test('bulk both ways with slow readers: upgraded, byte-identical, in order, counted; half-close after upgrade', async () => {
    const up = randomBytes(24 << 20);
    const down = randomBytes(20 << 20);
    let upstreamGot!: Promise<Buffer>;
    let upstreamSide!: net.Socket;
    const upPort = await listen((s) => {
      upstreamSide = s;
      upstreamGot = slowRead(s);
      send(s, down, false); // the upstream answers only after the client's FIN (below)
    });
    const t = await tunnel(upPort);
    const clientGot = slowRead(t.client);
    send(t.client, up, true);
    const got = await (async () => { await until(() => upstreamGot !== undefined); return upstreamGot; })();
    expect(got.length).toBe(up.length);
    expect(sha(got)).toBe(sha(up));
    // Half-close after the upgrade: the client's FIN arrived, the other way still flows.
    upstreamSide.end(Buffer.from('after-fin'));
    const back = await clientGot;
    expect(back.length).toBe(down.length + 9);
    expect(sha(back)).toBe(sha(Buffer.concat([down, Buffer.from('after-fin')])));
    expect(isUpgraded(await t.relayClient)).toBe(true);
    expect(isUpgraded(await t.relayUpstream)).toBe(true);
    t.client.end();
    await until(() => t.tracker.size === 0);
    expect(await metric(t.metrics, 'imgate_bytes_total', { door: 'socks5', direction: 'up' })).toBe(up.length);
    expect(await metric(t.metrics, 'imgate_bytes_total', { door: 'socks5', direction: 'down' })).toBe(down.length + 9);
  }, 30000);

  test('the idle timeout still tears an upgraded tunnel down', async () => {
    const data = randomBytes(8 << 20);
    let upstreamGot!: Promise<Buffer>;
    const upPort = await listen((s) => { upstreamGot = slowRead(s); s.on('error', () => undefined); });
    const t = await tunnel(upPort, 300);
    t.client.on('error', () => undefined);
    // Send without FIN: once the bytes are through, the tunnel sits idle.
    send(t.client, data, false);
    await until(() => upstreamGot !== undefined);
    const closed = new Promise<void>((r) => t.client.once('close', () => r()));
    t.client.resume();
    t.client.once('end', () => t.client.end());
    const got = await upstreamGot; // the relay ends upstream when it tears down on idle
    expect(sha(got)).toBe(sha(data));
    expect(isUpgraded(await t.relayClient)).toBe(true);
    await closed;
    await until(() => t.tracker.size === 0);
  }, 20000);

  test('an interactive tunnel (small request/answer turns) stays a plain pipe', async () => {
    const upPort = await listen((s) => {
      s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('re:'), d])));
      s.on('end', () => s.end());
    });
    const t = await tunnel(upPort);
    let answers = '';
    t.client.on('data', (d: Buffer) => (answers += d.toString()));
    for (let i = 0; i < 20; i++) {
      t.client.write(`ping ${i};`);
      await until(() => answers.includes(`re:ping ${i};`));
    }
    expect(isUpgraded(await t.relayClient)).toBe(false);
    expect(isUpgraded(await t.relayUpstream)).toBe(false);
    t.client.end();
    await until(() => t.tracker.size === 0);
  });
});
