// Reads a redirected connection's first client bytes until they name the
// server it was meant for. States:
//   DETECT  -> (auto) the first byte picks TLS (0x16), XMPP ('<'), or an
//              upper-case token that may be an HTTP method; anything else
//              names no server (IRC, MSNP, OSCAR, YMSG: fixed upstream).
//   METHOD  -> the token is read up to its space: an HTTP method or not.
//   HTTP / XMPP / TLS -> that protocol's scanner, until it decides.
//   DONE    -> `result` is set; the caller stops reading.
// Only `maxBytes` bytes are ever scanned; a chunk is kept whole (it is the
// head the upstream must get) but no further chunk is accepted after the
// limit. Every byte pushed is returned by head(), unchanged and in order.
import { ClientHelloReader, MAX_CLIENT_HELLO } from '../protocols/tls';
import type { ServerName } from './name';
import { HTTP_METHODS, HttpHeadScanner, MAX_METHOD, requestHost } from './http-head';
import { XmppHeadScanner, streamTo } from './xmpp-head';
import { parseHost } from './name';

export type SniffMode = 'auto' | 'xmpp' | 'http' | 'tls';
export type SniffedProtocol = 'xmpp' | 'http' | 'tls' | 'other';

export type SniffResult =
  | { kind: 'more' }
  /** The bytes name a server. */
  | { kind: 'name'; protocol: Exclude<SniffedProtocol, 'other'>; name: ServerName }
  /** They name none (not a protocol that does, malformed, over the limit, silent). */
  | { kind: 'none'; protocol: SniffedProtocol | null; why: string };

const DETECT = 0;
const METHOD = 1;
const HTTP = 2;
const XMPP = 3;
const TLS = 4;
const DONE = 5;

const MORE: SniffResult = { kind: 'more' };

export class HeadSniffer {
  private state: number;
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private scanned = 0;
  private joined: Buffer | null = null;
  private method = '';
  private http: HttpHeadScanner | null = null;
  private xmpp: XmppHeadScanner | null = null;
  private tls: ClientHelloReader | null = null;
  result: SniffResult = MORE;

  constructor(
    mode: SniffMode,
    private readonly maxBytes: number,
  ) {
    this.state = DETECT;
    if (mode === 'http') this.enter(HTTP);
    else if (mode === 'xmpp') this.enter(XMPP);
    else if (mode === 'tls') this.enter(TLS);
  }

  get bytes(): number {
    return this.total;
  }

  /** Takes the next client bytes; returns the result once decided ('more' until then). */
  push(chunk: Buffer): SniffResult {
    if (this.state === DONE || chunk.length === 0) return this.result;
    this.chunks.push(chunk);
    this.total += chunk.length;
    this.joined = null;
    // The limit applies before scanning: bytes past it are never looked at.
    const room = this.maxBytes - this.scanned;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.scan(part);
    this.scanned += part.length;
    if (this.state !== DONE && this.scanned >= this.maxBytes) {
      this.finish(`no server name in the first ${this.maxBytes} bytes`);
    }
    return this.result;
  }

  /** No more bytes will come (timeout, end): decide with what is there. */
  finish(why: string): SniffResult {
    if (this.state === DONE) return this.result;
    const protocol = this.state === HTTP ? 'http' : this.state === XMPP ? 'xmpp' : this.state === TLS ? 'tls' : null;
    return this.done({ kind: 'none', protocol, why });
  }

  /** Every byte pushed so far, as one buffer. */
  head(): Buffer {
    if (this.joined === null) this.joined = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.total);
    return this.joined;
  }

  private enter(state: number): void {
    this.state = state;
    if (state === HTTP) this.http = new HttpHeadScanner();
    else if (state === XMPP) this.xmpp = new XmppHeadScanner();
    else if (state === TLS) this.tls = new ClientHelloReader(Math.min(MAX_CLIENT_HELLO, this.maxBytes));
  }

  private done(r: SniffResult): SniffResult {
    this.state = DONE;
    this.result = r;
    this.http = null;
    this.xmpp = null;
    this.tls = null;
    return r;
  }

  private scan(part: Buffer): void {
    let p = part;
    if (this.state === DETECT) {
      const b = p[0] as number;
      if (b === 0x16) this.enter(TLS);
      else if (b === 0x3c) this.enter(XMPP);
      else if (b >= 0x41 && b <= 0x5a) this.state = METHOD;
      else {
        this.done({ kind: 'none', protocol: 'other', why: `first byte 0x${b.toString(16).padStart(2, '0')} is not TLS, XMPP or HTTP` });
        return;
      }
    }
    if (this.state === METHOD) {
      let i = 0;
      for (; i < p.length; i++) {
        const b = p[i] as number;
        if (b >= 0x41 && b <= 0x5a && this.method.length < MAX_METHOD) {
          this.method += String.fromCharCode(b);
          continue;
        }
        if (b === 0x20 && HTTP_METHODS.has(this.method)) break;
        this.done({ kind: 'none', protocol: 'other', why: `"${this.method}" is not an HTTP request` });
        return;
      }
      if (i === p.length) return;
      // The HTTP scanner reads the whole head, method included.
      this.enter(HTTP);
      p = this.head().subarray(0, this.scanned + i);
      (this.http as HttpHeadScanner).push(p);
      p = part.subarray(i);
    }
    if (this.state === HTTP) this.scanHttp(p);
    else if (this.state === XMPP) this.scanXmpp(p);
    else if (this.state === TLS) this.scanTls(p);
  }

  private scanHttp(p: Buffer): void {
    const s = this.http as HttpHeadScanner;
    if (!s.push(p)) return;
    const r = requestHost(this.head().toString('latin1', 0, s.headEnd));
    this.done(r.ok ? { kind: 'name', protocol: 'http', name: r.name } : { kind: 'none', protocol: 'http', why: r.error });
  }

  private scanXmpp(p: Buffer): void {
    const s = this.xmpp as XmppHeadScanner;
    if (!s.push(p)) return;
    if (s.error !== null) {
      this.done({ kind: 'none', protocol: 'xmpp', why: s.error });
      return;
    }
    const r = streamTo(this.head().toString('utf8', s.tagStart, s.tagEnd));
    this.done(r.ok ? { kind: 'name', protocol: 'xmpp', name: r.name } : { kind: 'none', protocol: 'xmpp', why: r.error });
  }

  private scanTls(p: Buffer): void {
    const r = this.tls as ClientHelloReader;
    if (r.push(p) !== 'done') return;
    if (r.error !== null) {
      this.done({ kind: 'none', protocol: 'tls', why: r.error });
      return;
    }
    const sni = r.info?.sni;
    const name = sni === undefined ? null : parseHost(sni);
    this.done(name ? { kind: 'name', protocol: 'tls', name } : { kind: 'none', protocol: 'tls', why: sni === undefined ? 'ClientHello without server_name' : `bad server_name "${sni.slice(0, 64)}"` });
  }
}
