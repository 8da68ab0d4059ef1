// Shared rig for the inspecting relay tests: a fake door that accepts a
// client, dials the upstream and hands both real loopback sockets to the
// relay with the inspector as its data phase, exactly as socks/ does.
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../../src/admin/metrics';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { createRelay, dial, TunnelTracker } from '../../../src/relay';
import { createInspector, type InspectSettings } from '../../../src/inspect';
import type { ProtocolModule } from '../../../src/protocols/types';
import type { TunnelRequest } from '../../../socks/types';
import { parseYaml } from '../../../src/config';

export type LogLine = Record<string, unknown> & { msg?: string };

export const servers: net.Server[] = [];
export const sockets = new Set<net.Socket>();

export async function closeAll(): Promise<void> {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
}

export function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    onConn(s);
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
}

export interface RigOptions {
  modules: ProtocolModule[];
  policy?: string;
  settings?: Partial<InspectSettings>;
  idleMs?: number;
}

export interface Tunnel {
  client: net.Socket;
  /** The gateway's sockets: the accepted client side and the dialled upstream. */
  doorSide: Promise<net.Socket>;
  upstream: Promise<net.Socket>;
}

export function rig(opts: RigOptions) {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const metrics = new Metrics({ defaultMetrics: false });
  const tracker = new TunnelTracker();
  const policy = new PolicyStore(parsePolicy(parseYaml(opts.policy ?? 'default: allow\nrules: []\n', null), null));
  const settings: InspectSettings = {
    enabled: true,
    probeMaxBytes: 512,
    probeTimeoutMs: 300,
    logTextMax: 4096,
    options: { starttls: 'pass', maxUnitBytes: 1 << 20 },
    ...opts.settings,
  };
  const onTunnel = createRelay({
    metrics,
    logger,
    tracker,
    idleTimeoutMs: () => opts.idleMs ?? 5000,
    dataPhase: createInspector({ modules: opts.modules, policy, metrics, logger, settings: () => settings }),
  });
  let seq = 0;

  async function tunnel(upstreamPort: number, head = Buffer.alloc(0)): Promise<Tunnel> {
    let doorRes!: (s: net.Socket) => void;
    let upRes!: (s: net.Socket) => void;
    const doorSide = new Promise<net.Socket>((r) => (doorRes = r));
    const upstream = new Promise<net.Socket>((r) => (upRes = r));
    const doorPort = await listen((clientSide) => {
      clientSide.pause();
      doorRes(clientSide);
      const req: TunnelRequest = {
        id: `t-${++seq}`,
        door: 'socks5',
        mode: 'connect',
        client: { address: clientSide.remoteAddress ?? '', port: clientSide.remotePort ?? 0 },
        destination: { host: '127.0.0.1', port: upstreamPort, type: 'ipv4' },
        user: 'alice',
      };
      void dial(req, 2000).then((up) => {
        sockets.add(up);
        upRes(up);
        onTunnel(req, clientSide, up, head);
      });
    });
    const client = net.connect({ host: '127.0.0.1', port: doorPort, allowHalfOpen: true });
    sockets.add(client);
    await new Promise((r) => client.once('connect', r));
    return { client, doorSide, upstream };
  }

  const events = () => lines.filter((l) => l.msg === 'im event');
  return { lines, events, metrics, tracker, policy, settings, tunnel };
}

export function collect(s: net.Socket): { data: () => Buffer; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<void>((r) => {
    s.once('end', () => r());
    s.once('close', () => r());
  });
  return { data: () => Buffer.concat(chunks), ended };
}

export async function until(cond: () => boolean | Promise<boolean>, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function metric(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const all = await m.registry.getMetricsAsJSON();
  const found = all.find((x) => x.name === name);
  const v = found?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v ? Number(v.value) : 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
