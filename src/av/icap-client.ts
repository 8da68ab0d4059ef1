// ICAP chaining: imgate as an ICAP RESPMOD client of another AV server
// (c-icap virus_scan, a vendor appliance). The content goes as res-body of a
// synthetic 200 response, without preview, offering Allow: 204; one
// connection per scan. Verdict rules are in icap-reply.ts.
import type net from 'node:net';
import { IcapReplyParser, parseHead } from './icap-reply';
import type { IcapScannerConfig } from './schema';
import { ScanError, type ScanSource, type Scanner, type Verdict } from './scanner';
import { connect, ioError, isPeerClosed, writable } from './socket-io';

interface IcapUrl {
  host: string;
  port: number;
  /** As written in the config, for the request line. */
  uri: string;
  hostHeader: string;
}

export function parseIcapUrl(url: string): IcapUrl {
  const m = /^icap:\/\/(\[[^\]]+\]|[^/:]+)(?::(\d+))?(\/\S*)?$/.exec(url);
  if (!m) throw new Error(`bad ICAP URL: ${url}`);
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  const port = m[2] !== undefined ? Number(m[2]) : 1344;
  return { host, port, uri: url, hostHeader: m[2] !== undefined ? `${m[1]}:${port}` : (m[1] as string) };
}

export class IcapScanner implements Scanner {
  readonly type = 'icap' as const;
  readonly name: string;
  private readonly url: IcapUrl;
  private readonly maxHead: number;

  constructor(cfg: IcapScannerConfig) {
    this.name = cfg.name;
    this.url = parseIcapUrl(cfg.url);
    this.maxHead = cfg.max_response_header_bytes;
  }

  private head(src: ScanSource, name: string | undefined): Buffer {
    const file = encodeURIComponent(name ?? src.sha256.slice(0, 16));
    const reqHdr = `GET http://imgate.av/${file} HTTP/1.1\r\nHost: imgate.av\r\n\r\n`;
    const resHdr = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${src.size}\r\n\r\n`;
    const icap =
      `RESPMOD ${this.url.uri} ICAP/1.0\r\n` +
      `Host: ${this.url.hostHeader}\r\n` +
      'Allow: 204\r\n' +
      'Connection: close\r\n' +
      `Encapsulated: req-hdr=0, res-hdr=${reqHdr.length}, res-body=${reqHdr.length + resHdr.length}\r\n\r\n`;
    return Buffer.from(icap + reqHdr + resHdr, 'latin1');
  }

  async scan(src: ScanSource, signal: AbortSignal, name?: string): Promise<Verdict> {
    const sock = connect(this.url, signal);
    const parser = new IcapReplyParser({ sha256: src.sha256, size: src.size }, this.maxHead);
    const reply = new Promise<Verdict>((resolve, reject) => {
      let lastErr: unknown = null;
      let settled = false;
      const settle = (v: Verdict | null, err: unknown): void => {
        if (settled) return;
        settled = true;
        sock.destroy();
        if (v) resolve(v);
        else reject(err);
      };
      sock.on('data', (d: Buffer) => {
        try {
          const v = parser.push(d);
          if (v) settle(v, null);
        } catch (err) {
          settle(null, err);
        }
      });
      sock.on('error', (e) => {
        lastErr = e;
      });
      sock.on('close', () => settle(null, lastErr ? ioError(lastErr, 'icap') : new ScanError('icap: connection closed before a complete answer', 'io')));
    });
    const pumped = this.pump(sock, src, name).catch((err: unknown) => {
      if (!isPeerClosed(err)) sock.destroy(err as Error);
    });
    const v = await reply;
    await pumped;
    return v;
  }

  private async pump(sock: net.Socket, src: ScanSource, name: string | undefined): Promise<void> {
    sock.write(this.head(src, name));
    const input = src.open();
    try {
      for await (const c of input) {
        const chunk = c as Buffer;
        if (chunk.length === 0) continue;
        if (sock.destroyed || !sock.writable) return;
        sock.write(`${chunk.length.toString(16)}\r\n`);
        sock.write(chunk);
        if (!sock.write('\r\n')) await writable(sock);
      }
      if (!sock.destroyed && sock.writable) sock.write('0\r\n\r\n');
    } finally {
      input.destroy();
    }
  }

  /** The server's ISTag from OPTIONS: it changes when its signatures do. */
  async version(signal: AbortSignal): Promise<string> {
    const sock = connect(this.url, signal);
    const head = await new Promise<string>((resolve, reject) => {
      let buf = '';
      let lastErr: unknown = null;
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        const i = buf.indexOf('\r\n\r\n');
        if (i >= 0) {
          sock.destroy();
          resolve(buf.slice(0, i));
        } else if (buf.length > this.maxHead) {
          sock.destroy();
          reject(new ScanError('icap: OPTIONS head too long', 'protocol'));
        }
      });
      sock.on('error', (e) => {
        lastErr = e;
      });
      sock.on('close', () => reject(lastErr ? ioError(lastErr, 'icap') : new ScanError('icap: OPTIONS: no answer', 'io')));
      sock.write(`OPTIONS ${this.url.uri} ICAP/1.0\r\nHost: ${this.url.hostHeader}\r\nConnection: close\r\nEncapsulated: null-body=0\r\n\r\n`);
    });
    const h = parseHead(head, 'ICAP');
    if (h.status !== 200) throw new ScanError(`icap: OPTIONS answered ${h.status}`, 'protocol');
    return `icap ${this.url.uri} ${h.headers.get('istag') ?? '(no ISTag)'}`;
  }
}
