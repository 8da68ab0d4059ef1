// clamd client: zINSTREAM (4-byte big-endian length-prefixed chunks, a zero
// chunk ends the stream) over TCP or a unix socket, zVERSION for the
// signature version. One connection per scan: clamd closes after replying.
import type net from 'node:net';
import type { ClamdScannerConfig } from './schema';
import { ScanError, type ScanSource, type Scanner, type Verdict } from './scanner';
import { connect, ioError, isPeerClosed, writable, type Endpoint } from './socket-io';

/** clamd replies are one short line; anything longer is not clamd. */
const MAX_REPLY = 4096;
/** Bytes queued on the clamd socket before the pump waits for it to drain. */
const IN_FLIGHT_BYTES = 1024 * 1024;

/** Parses one NUL/newline-terminated INSTREAM reply. */
export function parseClamdReply(raw: string): Verdict {
  const line = raw.replace(/[\0\r\n]+$/, '');
  // IDSESSION replies are numbered ("1: stream: OK"); accept both shapes.
  const body = line.replace(/^\d+: /, '');
  if (body === 'stream: OK') return { status: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(body);
  if (found) return { status: 'infected', signature: found[1] as string };
  if (/size limit exceeded/i.test(body)) throw new ScanError(`clamd: ${body}`, 'limit');
  if (body === '') throw new ScanError('clamd: connection closed without a reply', 'io');
  throw new ScanError(`clamd: ${body.slice(0, 200)}`, 'protocol');
}

/** Reads until the first NUL (or EOF), bounded. */
function readReply(sock: net.Socket, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    let lastErr: unknown = null;
    const finish = (err: unknown): void => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(buf);
    };
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const nul = buf.indexOf('\0');
      if (nul >= 0) {
        buf = buf.slice(0, nul);
        finish(null);
      } else if (buf.length > MAX_REPLY) finish(new ScanError(`${what}: reply too long`, 'protocol'));
    });
    // A write error (EPIPE/ECONNRESET) often comes with a reply already
    // read (size limit): keep it and decide on close.
    sock.on('error', (e) => {
      lastErr = e;
    });
    sock.on('close', () => {
      if (buf.length > 0) finish(null);
      else finish(lastErr ? ioError(lastErr, what) : new ScanError(`${what}: connection closed without a reply`, 'io'));
    });
  });
}

export class ClamdScanner implements Scanner {
  readonly type = 'clamd' as const;
  readonly name: string;
  private readonly ep: Endpoint;
  private readonly chunkBytes: number;

  constructor(cfg: ClamdScannerConfig) {
    this.name = cfg.name;
    this.ep = cfg.socket !== undefined ? { path: cfg.socket } : { host: cfg.host, port: cfg.port ?? 3310 };
    this.chunkBytes = cfg.chunk_bytes;
  }

  async scan(src: ScanSource, signal: AbortSignal): Promise<Verdict> {
    const sock = connect(this.ep, signal);
    const reply = readReply(sock, 'clamd');
    // Rejections are reported through `reply`; this only stops the pump.
    const pumped = this.pump(sock, src).catch((err: unknown) => {
      if (!isPeerClosed(err)) sock.destroy(err as Error);
    });
    const text = await reply;
    await pumped;
    return parseClamdReply(text);
  }

  private async pump(sock: net.Socket, src: ScanSource): Promise<void> {
    sock.write('zINSTREAM\0');
    const input = src.open();
    try {
      for await (const c of input) {
        const chunk = c as Buffer;
        for (let off = 0; off < chunk.length; off += this.chunkBytes) {
          if (sock.destroyed || !sock.writable) return;
          const piece = off === 0 && chunk.length <= this.chunkBytes ? chunk : chunk.subarray(off, off + this.chunkBytes);
          const len = Buffer.allocUnsafe(4);
          len.writeUInt32BE(piece.length, 0);
          sock.write(len);
          // Waiting for 'drain' after every 64 KiB made each chunk a round trip
          // (4x slower than a bare client); a bounded amount in flight keeps
          // clamd busy while memory stays capped.
          if (!sock.write(piece) && sock.writableLength > IN_FLIGHT_BYTES) await writable(sock);
        }
      }
      if (!sock.destroyed && sock.writable) sock.write(Buffer.alloc(4));
    } finally {
      input.destroy();
    }
  }

  async version(signal: AbortSignal): Promise<string> {
    const sock = connect(this.ep, signal);
    const reply = readReply(sock, 'clamd');
    sock.write('zVERSION\0');
    const text = (await reply).trim();
    if (!text.startsWith('ClamAV')) throw new ScanError(`clamd: unexpected VERSION reply: ${text.slice(0, 100)}`, 'protocol');
    return text;
  }
}
