// In-process HTTP origin on 127.0.0.1:0 with deterministic answers, so a test
// can compute the expected bytes (and their sha256) without a second copy:
//   GET  /anything      -> "origin GET /anything\n"
//   GET  /big/N         -> N pseudo-random bytes from a fixed seed
//   POST /anything      -> JSON { length, sha256 } of the received body
//   GET  /slow?n=&ms=   -> n chunks of 1000 bytes, one every ms (default 10 x 300 ms)
// Every request is recorded so a test can check what did (not) reach it.
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyLength: number;
  bodySha256: string;
}

export interface Origin {
  port: number;
  /** "http://127.0.0.1:PORT" */
  base: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

const bigCache = new Map<number, Buffer>();

/** The exact bytes /big/N serves (an LCG, so large files are not one repeated block). */
export function bigBody(n: number): Buffer {
  const cached = bigCache.get(n);
  if (cached) return cached;
  const buf = Buffer.allocUnsafe(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    buf[i] = x >>> 24;
  }
  if (n <= 64 * 1024 * 1024) bigCache.set(n, buf);
  return buf;
}

export function sha256(b: Buffer | string): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

export const SLOW_CHUNK = 1000;

export function slowBodyLength(n = 10): number {
  return n * SLOW_CHUNK;
}

export async function startOrigin(): Promise<Origin> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const hash = crypto.createHash('sha256');
    let length = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    req.on('end', () => {
      const bodySha256 = hash.digest('hex');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyLength: length, bodySha256 });
      // Proxies send absolute URIs to an origin only by mistake; handle both.
      const url = new URL(req.url ?? '/', 'http://origin.invalid');
      const big = /^\/big\/(\d+)$/.exec(url.pathname);
      if (req.method === 'POST' || req.method === 'PUT') {
        const body = JSON.stringify({ length, sha256: bodySha256 });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else if (big) {
        const body = bigBody(Number(big[1]));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
      } else if (url.pathname === '/slow') {
        const n = Number(url.searchParams.get('n') ?? 10);
        const ms = Number(url.searchParams.get('ms') ?? 300);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': n * SLOW_CHUNK });
        let sent = 0;
        const tick = (): void => {
          if (res.destroyed) return;
          res.write(Buffer.alloc(SLOW_CHUNK, 0x61 + (sent % 26)));
          sent += 1;
          if (sent >= n) res.end();
          else setTimeout(tick, ms);
        };
        tick();
      } else {
        // Origin-form in the body even if a proxy sent absolute-form (legal, RFC 9112 §3.2.2).
        const body = plainBody(req.method ?? '', url.pathname + url.search);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The body plain GET paths return, for equality checks. */
export function plainBody(method: string, path: string): string {
  return `origin ${method} ${path}\n`;
}
