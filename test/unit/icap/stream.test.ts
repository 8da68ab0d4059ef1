// A large RESPMOD echo through a real socket: the body must stream with
// backpressure (bounded memory) and come back byte-identical.
import crypto from 'node:crypto';
import net from 'node:net';
import { start, type Running } from './helpers';

jest.setTimeout(30000);

let s: Running;
beforeAll(async () => { s = await start({ transactionTimeoutMs: 20000 }); });
afterAll(async () => { await s.close(); });

/** Incremental reader of one echo response: head, encapsulated header, chunked body. */
class EchoReader {
  private buf: Buffer = Buffer.alloc(0);
  private stage: 'head' | 'hdr' | 'size' | 'data' | 'crlf' | 'done' = 'head';
  private hdrLen = 0;
  private left = 0;
  status = 0;
  bytes = 0;
  readonly hash = crypto.createHash('sha256');

  push(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.stage === 'head') {
        const e = this.buf.indexOf('\r\n\r\n');
        if (e < 0) return;
        const head = this.buf.subarray(0, e).toString('latin1');
        this.status = Number(head.split(' ')[1]);
        this.hdrLen = Number(/res-body=(\d+)/.exec(head)![1]);
        this.buf = this.buf.subarray(e + 4);
        this.stage = 'hdr';
      } else if (this.stage === 'hdr') {
        if (this.buf.length < this.hdrLen) return;
        this.buf = this.buf.subarray(this.hdrLen);
        this.stage = 'size';
      } else if (this.stage === 'size') {
        const e = this.buf.indexOf('\r\n');
        if (e < 0) return;
        this.left = parseInt(this.buf.subarray(0, e).toString('latin1'), 16);
        this.buf = this.buf.subarray(e + 2);
        this.stage = this.left === 0 ? 'done' : 'data';
        if (this.left === 0) return;
      } else if (this.stage === 'data') {
        if (this.buf.length === 0) return;
        const n = Math.min(this.left, this.buf.length);
        this.hash.update(this.buf.subarray(0, n));
        this.bytes += n;
        this.left -= n;
        this.buf = this.buf.subarray(n);
        if (this.left === 0) this.stage = 'crlf';
      } else if (this.stage === 'crlf') {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.stage = 'size';
      } else return;
    }
  }

  done(): boolean { return this.stage === 'done'; }
}

test('200 MiB RESPMOD echo: sha256 matches and RSS stays bounded', async () => {
  const total = 200 * 1024 * 1024;
  const block = crypto.randomBytes(256 * 1024);
  const req = 'GET http://example.test/big HTTP/1.1\r\nHost: example.test\r\n\r\n';
  const res = `HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`;
  const head = `RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\nEncapsulated: req-hdr=0, res-hdr=${req.length}, res-body=${req.length + res.length}\r\n\r\n${req}${res}`;
  const sent = crypto.createHash('sha256');
  const reader = new EchoReader();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sock = net.connect(s.port, '127.0.0.1');
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => { reader.push(d); if (reader.done()) resolve(); });
    sock.on('connect', () => {
      let off = 0;
      sock.write(head);
      const pump = (): void => {
        while (off < total) {
          const n = Math.min(block.length, total - off);
          const piece = block.subarray(0, n);
          sent.update(piece);
          off += n;
          const ok = sock.write(Buffer.concat([Buffer.from(n.toString(16) + '\r\n'), piece, Buffer.from('\r\n')]));
          if (!ok) { sock.once('drain', pump); return; }
        }
        sock.write('0\r\n\r\n');
      };
      pump();
    });
  });
  clearInterval(sampler);
  sock.destroy();
  expect(reader.status).toBe(200);
  expect(reader.bytes).toBe(total);
  expect(reader.hash.digest('hex')).toBe(sent.digest('hex'));
  // Client and server share this process; both stream, so growth stays far below the body size.
  expect(peak - rss0).toBeLessThan(96 * 1024 * 1024);
});
