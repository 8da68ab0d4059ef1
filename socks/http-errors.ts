// Small text error responses of the HTTP proxy door, for both paths: a
// ServerResponse (forwarded requests) and a raw socket (CONNECT, parse errors).
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

export interface ErrorExtras {
  /** Realm for 407's Proxy-Authenticate. */
  realm?: string;
  /** Allow header for 405. */
  allow?: string;
  /** Close the client connection after this response. */
  close: boolean;
}

function bodyOf(status: number, detail: string): string {
  return `${status} ${STATUS_CODES[status] ?? 'Error'}: ${detail}\n`;
}

function quoteRealm(realm: string): string {
  return realm.replace(/["\\\r\n]/g, '');
}

export function sendError(res: ServerResponse, status: number, detail: string, x: ErrorExtras): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = bodyOf(status, detail);
  const headers: Record<string, string> = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
  };
  if (x.realm !== undefined) headers['Proxy-Authenticate'] = `Basic realm="${quoteRealm(x.realm)}"`;
  if (x.allow !== undefined) headers.Allow = x.allow;
  if (x.close) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/** Complete HTTP/1.1 error response bytes for a raw socket (always Connection: close). */
export function rawError(status: number, detail: string, realm?: string): string {
  const body = bodyOf(status, detail);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  if (realm !== undefined) head += `Proxy-Authenticate: Basic realm="${quoteRealm(realm)}"\r\n`;
  return `${head}\r\n${body}`;
}
