// Shared test fixtures: real origins on port 0, real dial hooks (net.connect,
// loopback only), a recording logger, and raw-socket exchanges.
import net from 'node:net';
import http from 'node:http';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { DialError } from '../../../socks/types';
import type { Door, DoorHooks, DoorLogger, TunnelRequest, RefusalReason } from '../../../socks/types';

export interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

export function recordingLogger(): DoorLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Refusal {
  req: Partial<TunnelRequest>;
  reason: string;
  detail: string;
}

export interface TestHooks extends DoorHooks {
  refusals: Refusal[];
  tunnels: TunnelRequest[];
  forwards: Array<TunnelRequest & { method: string; path: string }>;
  dials: TunnelRequest[];
  /** Set to make dial reject with this DialError reason. */
  failDialWith: RefusalReason | null;
  /** Delay before dialing (ms), to test client-side timing. */
  dialDelayMs: number;
  denyHosts: Set<string>;
  users: Map<string, string>;
  clientAllowed: boolean;
  /** Forwarded paths onForward refuses (answers false), as a policy would. */
  refusePaths: Set<string>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Hooks with a real net.connect dial; tunnels are piped both ways. */
export function realHooks(): TestHooks {
  const h: TestHooks = {
    refusals: [],
    tunnels: [],
    forwards: [],
    dials: [],
    failDialWith: null,
    dialDelayMs: 0,
    denyHosts: new Set(),
    users: new Map([['alice', 's3cret']]),
    clientAllowed: true,
    refusePaths: new Set(),
    allowClient: () => h.clientAllowed,
    authenticate: (user, password) => Promise.resolve(h.users.get(user) === password),
    allowDestination: (req) => !h.denyHosts.has(req.destination.host),
    dial: async (req) => {
      h.dials.push(req);
      if (h.dialDelayMs > 0) await new Promise((r) => setTimeout(r, h.dialDelayMs));
      if (h.failDialWith) throw new DialError(h.failDialWith, `test dial failure ${h.failDialWith}`);
      // Safety net: tests only ever reach loopback.
      if (!LOOPBACK.has(req.destination.host)) throw new DialError('not-allowed', 'tests dial loopback only');
      return new Promise<net.Socket>((resolve, reject) => {
        const up = net.connect({ host: req.destination.host, port: req.destination.port });
        const timer = setTimeout(() => {
          up.destroy();
          reject(new DialError('ttl-expired', 'connect timeout'));
        }, 3000);
        up.once('connect', () => {
          clearTimeout(timer);
          up.removeAllListeners('error');
          resolve(up);
        });
        up.once('error', reject);
      });
    },
    onTunnel: (req, client, upstream, head) => {
      h.tunnels.push(req);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    },
    onForward: (req) => {
      h.forwards.push(req);
      return !h.refusePaths.has(req.path);
    },
    onRefused: (req, reason, detail) => {
      h.refusals.push({ req, reason, detail });
    },
  };
  return h;
}

export interface Origin {
  port: number;
  close(): Promise<void>;
}

/** TCP server that greets with "hello\n" only after it gets data, and echoes everything. */
export async function startEchoOrigin(host = '127.0.0.1'): Promise<Origin & { sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * HTTP origin: answers "<name> <method> <url>" plus request facts as JSON;
 * /sha256 returns the sha256 of the request body; /big/<n> returns n bytes
 * of a deterministic pattern with its sha256 in the X-Sha256 header.
 */
export async function startHttpOrigin(name: string, host = '127.0.0.1'): Promise<Origin & { seen: http.IncomingMessage[] }> {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    const url = req.url ?? '';
    if (url.startsWith('/big/')) {
      const n = Number(url.slice(5));
      const body = pattern(n);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-sha256': sha256(body), 'content-length': String(n) });
      req.resume();
      res.end(body);
      return;
    }
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const facts = { origin: name, method: req.method, url, headers: req.headers, rawHeaders: req.rawHeaders, bytes, sha256: hash.digest('hex') };
      const body = JSON.stringify(facts);
      res.writeHead(200, { 'content-type': 'application/json', 'keep-alive': 'timeout=5', connection: 'keep-alive, x-origin-hop', 'x-origin-hop': 'secret' });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 2000;
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

export function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

export interface Exchange {
  data: Buffer;
  /** How the connection ended within the wait: 'closed' or 'open' (still open at the deadline). */
  ended: 'closed' | 'open';
}

/**
 * Connect raw, write each part (in separate writes with a pause between when
 * more than one), collect everything until the server closes or waitMs.
 */
export function rawExchange(port: number, parts: Buffer[], waitMs = 2000, host = '127.0.0.1'): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port });
    let done = false;
    const finish = (ended: 'closed' | 'open') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), ended });
    };
    const timer = setTimeout(() => finish('open'), waitMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => finish('closed'));
    s.on('close', () => finish('closed'));
    s.on('end', () => finish('closed'));
    s.on('connect', async () => {
      for (let i = 0; i < parts.length; i++) {
        if (s.destroyed) return;
        s.write(parts[i] as Buffer);
        if (i < parts.length - 1) await new Promise((r) => setTimeout(r, 30));
      }
    });
  });
}

/** Resolve when `cond` holds (polling), or reject after ms. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port with nothing listening (bound then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface DoorFixture {
  door: Door;
  port: number;
  hooks: TestHooks;
  logger: ReturnType<typeof recordingLogger>;
}

/** The doors one test file starts on free ports with real hooks and a recording logger; closed together in afterAll. */
export class DoorSet {
  private readonly doors: Door[] = [];

  async start(make: (hooks: TestHooks, logger: DoorLogger) => Door): Promise<DoorFixture> {
    const hooks = realHooks();
    const logger = recordingLogger();
    const door = make(hooks, logger);
    const { port } = await door.listen();
    this.doors.push(door);
    return { door, port, hooks, logger };
  }

  closeAll(): Promise<unknown> {
    return Promise.all(this.doors.map((d) => d.close()));
  }
}

/** curl as a real client (-sS, bounded time); resolves with its exit code and output, never rejects. */
export function curl(args: string[], maxTimeSecs = 5): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(maxTimeSecs), ...args], { timeout: (maxTimeSecs + 3) * 1000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
