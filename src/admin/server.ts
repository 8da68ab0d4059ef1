// Admin HTTP server: /healthz (liveness), /readyz (every enabled listener bound
// and not draining, every readiness check ok), /metrics (Prometheus) stay
// open for scrapers; everything else (the web UI and /api/*) is behind
// AdminAuth when the UI is on (ui.ts).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log';
import type { Metrics } from './metrics';
import type { Readiness } from './readiness';
import { createUiHandler, type AdminUiOptions } from './ui';

export interface AdminServerOptions {
  metrics: Metrics;
  readiness: Readiness;
  logger: Logger;
  /** Per-request budget; scrapes are small and local. */
  requestTimeoutMs?: number;
  /** The web UI and JSON API; absent: only the three open endpoints. */
  ui?: AdminUiOptions;
}

export interface AdminServer {
  listen(port: number, host: string): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}

export function createAdminServer(opts: AdminServerOptions): AdminServer {
  const timeout = opts.requestTimeoutMs ?? 10_000;
  const sockets = new Set<Socket>();
  const ui = opts.ui ? createUiHandler(opts.ui, opts.logger) : null;
  const server = http.createServer((req, res) => {
    const head = req.method === 'HEAD';
    const path = (req.url ?? '/').split('?')[0];
    if (ui && path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      ui(req, res);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain', 'method not allowed\n', false);
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'text/plain', 'ok\n', head);
    } else if (path === '/readyz') {
      const report = opts.readiness.report();
      send(res, report.ready ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`, head);
    } else if (path === '/metrics') {
      opts.metrics.registry.metrics().then(
        (text) => send(res, 200, opts.metrics.registry.contentType, text, head),
        (err: unknown) => {
          opts.logger.error({ door: 'admin', err: (err as Error).message }, 'metrics collection failed');
          send(res, 500, 'text/plain', 'metrics collection failed\n', head);
        },
      );
    } else {
      send(res, 404, 'text/plain', 'not found\n', head);
    }
  });
  server.requestTimeout = timeout;
  server.headersTimeout = Math.min(timeout, 5_000);
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  server.setTimeout(timeout);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.removeListener('error', onError);
          server.on('error', (err) => opts.logger.error({ door: 'admin', err: err.message }, 'admin listener error'));
          const a = server.address() as AddressInfo;
          resolve({ address: a.address, port: a.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        // Scrapers keep connections alive; admin answers are instant, so
        // nothing in flight is worth waiting for.
        for (const s of sockets) s.destroy();
      });
    },
  };
}
