// The authenticated part of the admin port: UI pages, their assets and the
// JSON API. Authentication comes first, before routing, so an unauthenticated
// request learns nothing: not whether a path exists, not a count.
import type http from 'node:http';
import type { Logger } from '../log';
import { createApi, type AdminApiDeps } from './api';
import { loadAssets, type Asset } from './assets';
import type { AdminAuth } from './auth';
import { streamFile } from './download';

export interface AdminUiOptions {
  auth: AdminAuth;
  api: AdminApiDeps;
}

/** No inline script or style, nothing from elsewhere, never framed. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

function reply(res: http.ServerResponse, status: number, type: string, body: Buffer | string, head: boolean, extra: Record<string, string | string[]> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...SECURITY_HEADERS, ...extra, 'Content-Type': type, 'Content-Length': String(buf.length) });
  res.end(head ? undefined : buf);
}

function json(res: http.ServerResponse, status: number, value: unknown, head: boolean): void {
  reply(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, head);
}

export function createUiHandler(opts: AdminUiOptions, logger: Logger): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  let assets: Map<string, Asset> | null = null;
  let assetError: string | null = null;
  try {
    assets = loadAssets();
  } catch (err) {
    // The API still works without the pages; say why the pages are missing.
    assetError = (err as Error).message;
    logger.error({ door: 'admin', err: assetError }, 'admin UI assets missing: only /api/* is served');
  }
  const api = createApi(opts.api);

  return (req, res) => {
    const head = req.method === 'HEAD';
    if (!opts.auth.check(req.headers.authorization)) {
      reply(res, 401, 'text/plain; charset=utf-8', 'authentication required\n', head, { 'WWW-Authenticate': opts.auth.challenges });
      req.resume();
      return;
    }
    if (req.method !== 'GET' && !head) {
      reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false, { Allow: 'GET, HEAD' });
      req.resume();
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin.invalid');
    } catch {
      json(res, 400, { error: 'bad request target' }, head);
      return;
    }
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      api(path, url.searchParams).then(
        async (a) => {
          if ('download' in a) {
            const ok = await streamFile(res, a.download.abs, { ...SECURITY_HEADERS, 'Content-Disposition': a.download.disposition }, head);
            if (!ok) json(res, 404, { error: 'file not archived' }, head);
            return;
          }
          json(res, a.status, a.json, head);
        },
        (err: unknown) => {
          logger.error({ door: 'admin', path, err: (err as Error).message }, 'admin API request failed');
          if (!res.headersSent) json(res, 500, { error: 'internal error (see the gateway log)' }, head);
          else res.destroy();
        },
      );
      return;
    }
    // Pages are hash-routed inside index.html: every page path is the one document.
    const asset = assets?.get(path === '/index.html' ? '/' : path);
    if (asset) {
      reply(res, 200, asset.type, asset.body, head);
      return;
    }
    if (assetError && path === '/') {
      reply(res, 503, 'text/plain; charset=utf-8', 'admin UI assets missing: see the gateway log\n', head);
      return;
    }
    reply(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
  };
}
