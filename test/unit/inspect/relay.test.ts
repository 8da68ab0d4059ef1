// The inspecting relay over real loopback sockets, with the small test
// protocols of modules.ts.
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { closeAll, collect, listen, metric, rig, sleep, until } from './helpers';
import { lineModule, sessions, slowModule, srvModule } from './modules';

afterAll(closeAll);

const POLICY = `
default: allow
rules:
  - { id: no-falcon, when: { kind: message, text_matches: ["(?i)project\\\\s+falcon"] }, then: block }
  - { id: mask-cards, when: { kind: message, text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b"] }, then: redact }
  - { id: no-unknown-zz, when: { kind: unknown, protocol: unknown, direction: out }, then: log }
`;

/** Upstream that records what it gets and answers nothing. */
async function sinkServer() {
  let resolveConn!: (s: net.Socket) => void;
  const conn = new Promise<net.Socket>((r) => (resolveConn = r));
  const port = await listen((s) => resolveConn(s));
  return { port, conn };
}

async function writeSplit(s: net.Socket, data: Buffer, sizes: number[]) {
  let p = 0;
  let i = 0;
  while (p < data.length) {
    const n = sizes[i++ % sizes.length] as number;
    s.write(data.subarray(p, p + n));
    p += n;
    // A macrotask between writes so loopback delivers separate segments.
    await sleep(1);
  }
}

describe('inspecting relay', () => {
  test('chunks split anywhere: allowed lines pass, a blocked one is dropped and the sender told, a card is masked', async () => {
    const r = rig({ modules: [srvModule, lineModule], policy: POLICY });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const fromGw = collect(t.client);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    const input = Buffer.from('HELLO alice\nMSG hi there\nMSG about Project  Falcon today\nMSG card 1234 5678 1234 5678 ok\nBYE\n');
    await writeSplit(t.client, input, [1, 3, 2, 7, 1, 13]);
    t.client.end();
    await until(() => upConn.readableEnded);
    expect(atUp.data().toString()).toBe('HELLO alice\nMSG hi there\nMSG card **** ok\nBYE\n');
    upConn.end();
    await fromGw.ended;
    expect(fromGw.data().toString()).toBe('BLOCKED no-falcon\n');
    const evs = r.events();
    expect(evs.map((e) => [e.text, e.action, e.rule])).toEqual([
      ['hi there', 'allow', 'default'],
      ['about Project  Falcon today', 'block', 'no-falcon'],
      ['card 1234 5678 1234 5678 ok', 'redact', 'mask-cards'],
    ]);
    expect(evs[0]).toMatchObject({ protocol: 'line', kind: 'message', direction: 'out', user: 'alice', client: '127.0.0.1', peer: 'bob', door: 'socks5', conn: 't-1', dest: `127.0.0.1:${up.port}` });
    expect(await metric(r.metrics, 'imgate_im_events_total', { protocol: 'line', kind: 'message', action: 'block' })).toBe(1);
    expect(await metric(r.metrics, 'imgate_policy_verdicts_total', { action: 'redact' })).toBe(1);
    expect(await metric(r.metrics, 'imgate_tunnels_by_protocol_total', { protocol: 'line' })).toBe(1);
    await until(() => r.tracker.size === 0);
    // Byte counts are what went out on the wire, after rewriting.
    expect(await metric(r.metrics, 'imgate_bytes_total', { door: 'socks5', direction: 'up' })).toBe(atUp.data().length);
    expect(await metric(r.metrics, 'imgate_bytes_total', { door: 'socks5', direction: 'down' })).toBe('BLOCKED no-falcon\n'.length);
  });

  test('HTTP CONNECT head counts as the first client bytes', async () => {
    const r = rig({ modules: [lineModule], policy: POLICY });
    const up = await sinkServer();
    const t = await r.tunnel(up.port, Buffer.from('HEL'));
    const upConn = await up.conn;
    const atUp = collect(upConn);
    t.client.end('LO\nMSG project falcon\nMSG ok\n');
    await until(() => upConn.readableEnded);
    expect(atUp.data().toString()).toBe('HELLO\nMSG ok\n');
  });

  test('backpressure: a slow upstream reader pauses the client; all bytes arrive intact', async () => {
    const r = rig({ modules: [lineModule] });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    upConn.pause();
    const gwUp = await t.upstream;
    const gwClient = await t.doorSide;
    const line = `MSG ${'x'.repeat(1019)}\n`;
    const total = 16 * 1024 * 1024;
    const body = Buffer.from('HELLO\n' + line.repeat(total / line.length));
    const want = createHash('sha256').update(body).digest('hex');
    let maxQueued = 0;
    const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, gwUp.writableLength)), 2);
    t.client.end(body);
    await sleep(400);
    // Upstream does not read: the gateway must have stopped reading the client
    // long before it took in 16 MiB.
    const readWhileStalled = gwClient.bytesRead;
    expect(readWhileStalled).toBeLessThan(body.length / 2);
    const h = createHash('sha256');
    let got = 0;
    upConn.on('data', (d: Buffer) => {
      h.update(d);
      got += d.length;
    });
    upConn.resume();
    await until(() => upConn.readableEnded, 20000);
    clearInterval(sampler);
    expect(got).toBe(body.length);
    expect(h.digest('hex')).toBe(want);
    // The gateway's own queue towards upstream stayed within a few chunks.
    expect(maxQueued).toBeLessThan(1024 * 1024);
    upConn.end();
  }, 30000);

  test('passthrough mid-stream: after PASS nothing is inspected and the sockets are piped', async () => {
    const r = rig({ modules: [lineModule], policy: POLICY });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    const fromGw = collect(t.client);
    t.client.write('HELLO\nMSG project falcon\nPASS\nMSG project falcon in the same chunk\n');
    await until(() => atUp.data().toString().includes('same chunk'));
    const session = sessions[sessions.length - 1]!;
    const pushesAtSwitch = session.pushes;
    t.client.write('MSG project falcon later\n');
    upConn.write('server says hi\n');
    await until(() => atUp.data().toString().includes('later') && fromGw.data().length > 0);
    expect(atUp.data().toString()).toBe('HELLO\nPASS\nMSG project falcon in the same chunk\nMSG project falcon later\n');
    expect(fromGw.data().toString()).toBe('BLOCKED no-falcon\nserver says hi\n');
    expect(session.pushes).toBe(pushesAtSwitch);
    // A plain pipe: the gateway's sockets carry no data listener of the inspector.
    const gwClient = await t.doorSide;
    expect(gwClient.listenerCount('data')).toBe(1);
    t.client.end();
    await until(() => upConn.readableEnded);
    upConn.end();
  });

  test('unknown protocol: one event with the fingerprint, then a plain pipe', async () => {
    const r = rig({ modules: [lineModule, srvModule], policy: POLICY });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    const fromGw = collect(t.client);
    const first = Buffer.from([0x00, 0x01, 0xfe, 0xff, ...Buffer.from('GET-LIKE nonsense that nobody knows')]);
    t.client.write(first);
    await until(() => atUp.data().length === first.length);
    // A plain pipe: the gateway's client socket has pipe's listener only.
    expect((await t.doorSide).listenerCount('data')).toBe(1);
    upConn.write('reply');
    t.client.end('more');
    await until(() => upConn.readableEnded);
    upConn.end();
    await fromGw.ended;
    expect(Buffer.compare(atUp.data(), Buffer.concat([first, Buffer.from('more')]))).toBe(0);
    expect(fromGw.data().toString()).toBe('reply');
    const evs = r.events();
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({
      kind: 'unknown',
      protocol: 'unknown',
      direction: 'out',
      action: 'log',
      rule: 'no-unknown-zz',
      detail: { fingerprint: first.subarray(0, 16).toString('hex'), length: first.length },
    });
    expect(await metric(r.metrics, 'imgate_tunnels_by_protocol_total', { protocol: 'unknown' })).toBe(1);
  });

  test('unknown protocol blocked by policy: the tunnel closes with a logged reason, upstream gets nothing', async () => {
    const r = rig({ modules: [lineModule], policy: 'default: allow\nrules:\n  - { id: no-unknown, when: { kind: unknown }, then: block }\n' });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    const fromGw = collect(t.client);
    t.client.write('SSH-2.0-OpenSSH_9.2\r\n');
    await fromGw.ended;
    await atUp.ended;
    expect(atUp.data().length).toBe(0);
    await until(() => r.lines.some((l) => l.msg === 'tunnel closed'));
    const closed = r.lines.find((l) => l.msg === 'tunnel closed');
    expect(String(closed?.reason)).toMatch(/unknown protocol blocked by policy \(rule no-unknown, fingerprint 5353482d322e302d4f70656e5353485f\)/);
    expect(r.events()[0]).toMatchObject({ kind: 'unknown', action: 'block', rule: 'no-unknown' });
  });

  test('a session that closes tears the tunnel down with its reason', async () => {
    const r = rig({ modules: [lineModule] });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    const fromGw = collect(t.client);
    t.client.write('HELLO\nMSG fine\nCLOSE\nMSG never\n');
    await fromGw.ended;
    await atUp.ended;
    expect(atUp.data().toString()).toBe('HELLO\nMSG fine\n');
    await until(() => r.tracker.size === 0);
    expect(r.lines.find((l) => l.msg === 'tunnel closed')?.reason).toBe('client asked to close');
  });

  test('server-first: a silent client, the server greets; its protocol is picked and the greeting delivered', async () => {
    const r = rig({ modules: [lineModule, srvModule] });
    const port = await listen((s) => s.write('SRVHELLO v1\n'));
    const t = await r.tunnel(port);
    const fromGw = collect(t.client);
    await until(() => fromGw.data().toString() === 'SRVHELLO v1\n');
    expect(await metric(r.metrics, 'imgate_tunnels_by_protocol_total', { protocol: 'srv' })).toBe(1);
    expect(r.events()[0]).toMatchObject({ protocol: 'srv', kind: 'login', direction: 'in', account: 'server-greeted' });
    t.client.destroy();
  });

  test('server-first, unknown greeting: held until the probe timeout, then an inbound unknown event and a pipe', async () => {
    const r = rig({ modules: [lineModule, srvModule], settings: { probeTimeoutMs: 250 } });
    const port = await listen((s) => {
      s.write('220 mail.example ESMTP\r\n');
      s.on('data', (d: Buffer) => s.write(`250 got ${d.toString()}`));
    });
    const started = Date.now();
    const t = await r.tunnel(port);
    const fromGw = collect(t.client);
    await until(() => fromGw.data().length > 0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(fromGw.data().toString()).toBe('220 mail.example ESMTP\r\n');
    expect(r.events()[0]).toMatchObject({ kind: 'unknown', direction: 'in', detail: { fingerprint: Buffer.from('220 mail.example').toString('hex'), length: 24 } });
    t.client.write('EHLO x\r\n');
    await until(() => fromGw.data().toString().endsWith('250 got EHLO x\r\n'));
    t.client.destroy();
  });

  test("memory bounded while probing: 'more' waits, but never past probe_max_bytes", async () => {
    const r = rig({ modules: [slowModule, lineModule], settings: { probeMaxBytes: 256, probeTimeoutMs: 60000 } });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    const big = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    t.client.write(big.subarray(0, 100));
    await sleep(100);
    // Under the bound, 'more' waits: nothing forwarded yet.
    expect(atUp.data().length).toBe(0);
    t.client.write(big.subarray(100));
    // At the bound 'more' counts as 'no': unknown, piped, every byte delivered.
    t.client.end();
    await until(() => upConn.readableEnded, 10000);
    expect(atUp.data().length).toBe(big.length);
    expect(slowModule.maxHeadSeen).toBe(256);
    // What was held at the decision: the bound plus at most one socket read.
    const held = (r.events()[0]?.detail as { length: number }).length;
    expect(held).toBeGreaterThanOrEqual(256);
    expect(held).toBeLessThanOrEqual(256 + 64 * 1024);
    upConn.end();
  });

  test('inspect.enabled false keeps the bare pipe: no probing, no events', async () => {
    const r = rig({ modules: [lineModule], policy: POLICY, settings: { enabled: false } });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const upConn = await up.conn;
    const atUp = collect(upConn);
    t.client.end('HELLO\nMSG project falcon\n');
    await until(() => upConn.readableEnded);
    expect(atUp.data().toString()).toBe('HELLO\nMSG project falcon\n');
    expect(r.events()).toHaveLength(0);
    upConn.end();
  });

  test('idle timeout still applies to inspected tunnels', async () => {
    const r = rig({ modules: [lineModule], idleMs: 300 });
    const up = await sinkServer();
    const t = await r.tunnel(up.port);
    const fromGw = collect(t.client);
    t.client.write('HELLO\n');
    await fromGw.ended;
    await until(() => r.lines.some((l) => l.msg === 'tunnel closed' && l.reason === 'idle timeout'));
  });
});
