// Test helpers: a server on an ephemeral loopback port and a raw ICAP client
// that reads whole responses (framing decided by the Encapsulated header).
import net from 'node:net';
import { createIcapServer } from '../../../icap';
import type { IcapLogger, IcapServer, IcapServerOptions, IcapService, IcapVerdict, IcapRequest } from '../../../icap';

export interface LogLine { level: string; obj: object; msg?: string }

export function memLogger(lines: LogLine[] = []): IcapLogger & { lines: LogLine[] } {
  const mk = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj, msg }); };
  return { lines, debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error') };
}

export function service(path: string, method: 'REQMOD' | 'RESPMOD', handle: (r: IcapRequest) => Promise<IcapVerdict>): IcapService {
  return { path, method, description: `test ${method}`, handle };
}

export const allowAll = async (): Promise<IcapVerdict> => ({ kind: 'allow' });

export function baseOptions(over: Partial<IcapServerOptions> = {}): IcapServerOptions {
  return {
    services: [service('/reqmod', 'REQMOD', allowAll), service('/respmod', 'RESPMOD', allowAll)],
    istag: () => 'tag-1',
    serviceId: 'imgate-test',
    maxConnections: 50,
    previewBytes: 1024,
    optionsTtlSeconds: 3600,
    idleTimeoutMs: 5000,
    transactionTimeoutMs: 5000,
    limits: { maxIcapHeaderBytes: 65536, maxHttpHeaderBytes: 65536, maxLineBytes: 8192, maxHeaderCount: 200 },
    logger: memLogger(),
    ...over,
  };
}

export interface Running { server: IcapServer; port: number; close(): Promise<void> }

export async function start(over: Partial<IcapServerOptions> = {}): Promise<Running> {
  const server = createIcapServer(baseOptions(over));
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, close: () => server.close(200) };
}

export interface IcapResponse {
  status: number;
  head: string;
  headers: Map<string, string>;
  /** Bytes after the ICAP head: encapsulated headers + chunked body as sent. */
  encap: Buffer;
  /** De-chunked body, if any. */
  body: Buffer;
}

/** Length of the first complete response in buf, or -1. */
export function responseLength(buf: Buffer): number {
  const he = buf.indexOf('\r\n\r\n');
  if (he < 0) return -1;
  const head = buf.subarray(0, he).toString('latin1');
  const enc = /\r\nEncapsulated:\s*([^\r\n]*)/i.exec(head);
  const base = he + 4;
  if (enc === null) return base;
  const parts = new Map(enc[1]!.split(',').map((s) => { const [k, v] = s.trim().split('='); return [k!, Number(v)] as const; }));
  if (parts.has('null-body')) return buf.length >= base + parts.get('null-body')! ? base + parts.get('null-body')! : -1;
  const key = [...parts.keys()].find((k) => k.endsWith('-body'))!;
  let p = base + parts.get(key)!;
  for (;;) {
    const le = buf.indexOf('\r\n', p);
    if (le < 0) return -1;
    const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
    if (n === 0) { const end = buf.indexOf('\r\n\r\n', le); return end < 0 ? -1 : end + 4; }
    p = le + 2 + n + 2;
    if (p > buf.length) return -1;
  }
}

export function parseResponse(buf: Buffer): IcapResponse {
  const he = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, he).toString('latin1');
  const lines = head.split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()); }
  const encap = buf.subarray(he + 4);
  let body: Buffer = Buffer.alloc(0);
  const enc = headers.get('encapsulated');
  if (enc !== undefined && !/null-body/.test(enc)) {
    const off = Number(/-body=(\d+)/.exec(enc)![1]);
    body = dechunk(encap.subarray(off));
  }
  return { status, head, headers, encap, body };
}

export function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let p = 0;
  for (;;) {
    const le = b.indexOf('\r\n', p);
    const n = parseInt(b.subarray(p, le).toString('latin1'), 16);
    if (n === 0) break;
    out.push(b.subarray(le + 2, le + 2 + n));
    p = le + 2 + n + 2;
  }
  return Buffer.concat(out);
}

/** A raw client socket that collects bytes and yields whole responses. */
export class RawClient {
  readonly sock: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  closed = false;
  private waiters: Array<() => void> = [];

  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    this.sock.on('close', () => { this.closed = true; this.wake(); });
    this.sock.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawClient> {
    const c = new RawClient(port);
    await new Promise<void>((res, rej) => { c.sock.once('connect', res); c.sock.once('error', rej); });
    return c;
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  write(data: string | Buffer): void { this.sock.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data); }

  /** Next whole response (a 100 Continue counts as one). */
  async response(timeoutMs = 3000): Promise<IcapResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = responseLength(this.buf);
      if (n >= 0) { const r = parseResponse(this.buf.subarray(0, n)); this.buf = this.buf.subarray(n); return r; }
      if (this.closed) throw new Error(`connection closed; have ${JSON.stringify(this.buf.toString('latin1'))}`);
      if (Date.now() > deadline) throw new Error(`timeout; have ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    return this.closed;
  }

  pending(): Buffer { return this.buf; }

  end(): void { this.sock.destroy(); }
}

export function chunked(body: Buffer | string, ieof = false): string {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  return (b.length ? b.length.toString(16) + '\r\n' + b.toString('latin1') + '\r\n' : '') + (ieof ? '0; ieof\r\n\r\n' : '0\r\n\r\n');
}

/** Build a RESPMOD with req-hdr, res-hdr, res-body. */
export function respmod(path: string, body: string, extra = '', resHdr?: string): string {
  const req = 'GET http://example.test/x HTTP/1.1\r\nHost: example.test\r\n\r\n';
  const res = resHdr ?? `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n`;
  return `RESPMOD icap://127.0.0.1${path} ICAP/1.0\r\nHost: 127.0.0.1\r\n${extra}Encapsulated: req-hdr=0, res-hdr=${req.length}, res-body=${req.length + res.length}\r\n\r\n${req}${res}${chunked(body)}`;
}

export function reqmod(path: string, body: string | null, extra = ''): string {
  const req = `POST http://example.test/up HTTP/1.1\r\nHost: example.test\r\n${body === null ? '' : `Content-Length: ${body.length}\r\n`}\r\n`;
  const enc = body === null ? `req-hdr=0, null-body=${req.length}` : `req-hdr=0, req-body=${req.length}`;
  return `REQMOD icap://127.0.0.1${path} ICAP/1.0\r\nHost: 127.0.0.1\r\n${extra}Encapsulated: ${enc}\r\n\r\n${req}${body === null ? '' : chunked(body)}`;
}
