// Finds the end of an HTTP/1.x request head (the empty line; bare LF
// tolerated as RFC 9112 §2.2 allows) with a byte-level state machine, then
// reads the server name from the complete head: the Host header, else the
// authority of an absolute-form request target.
import { parseAuthority, type ServerName } from './name';

const LF = 0x0a;
const CR = 0x0d;

/** Request methods that make the first bytes HTTP (auto mode). */
export const HTTP_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'DELETE', 'PATCH', 'TRACE']);
export const MAX_METHOD = 7;

export class HttpHeadScanner {
  /** Line feeds seen since the last byte that was neither CR nor LF. */
  private newlines = 0;
  private pos = 0;
  /** Offset just past the empty line, once found. */
  headEnd = -1;

  push(chunk: Buffer): boolean {
    if (this.headEnd >= 0) return true;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === LF) {
        if (++this.newlines === 2) {
          this.headEnd = this.pos + i + 1;
          break;
        }
      } else if (b !== CR) this.newlines = 0;
    }
    this.pos += chunk.length;
    return this.headEnd >= 0;
  }
}

export type HostResult = { ok: true; name: ServerName } | { ok: false; error: string };

/** The server a complete request head names. */
export function requestHost(head: string): HostResult {
  const lines = head.split('\n');
  const requestLine = (lines[0] ?? '').replace(/\r$/, '');
  const parts = requestLine.split(' ');
  if (parts.length !== 3 || !/^HTTP\/\d\.\d$/.test(parts[2] as string)) return { ok: false, error: `bad request line "${requestLine.slice(0, 80)}"` };
  let host: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).toLowerCase() !== 'host') continue;
    // RFC 9112 §3.2: more than one Host is a bad request.
    if (host !== undefined) return { ok: false, error: 'more than one Host header' };
    host = line.slice(colon + 1).trim();
  }
  const target = parts[1] as string;
  if ((host === undefined || host === '') && /^https?:\/\//i.test(target)) {
    host = target.replace(/^https?:\/\//i, '').split(/[/?#]/, 1)[0];
  }
  if (host === undefined || host === '') return { ok: false, error: 'request without a Host' };
  const name = host.includes('@') ? null : parseAuthority(host);
  return name ? { ok: true, name } : { ok: false, error: `bad Host "${host.slice(0, 80)}"` };
}
