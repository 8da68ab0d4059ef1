// Incremental reader of the first handshake message of a TLS stream, over
// arbitrarily split chunks: record layer framing (RFC 8446 §5.1: type,
// version, length) around handshake framing (type, 24-bit length), where one
// ClientHello may span several records. Only the handshake body is copied,
// into a buffer allocated once its announced length passed the limit check.
import { parseClientHello, type HelloInfo } from './hello';

const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
/** RFC 8446 §5.1: a plaintext fragment is at most 2^14 bytes. */
const MAX_RECORD = 16_384;

const S_REC_HEADER = 0;
const S_REC_BODY = 1;
const S_DONE = 2;

export type ReadStatus = 'more' | 'done';

export class ClientHelloReader {
  private state = S_REC_HEADER;
  private readonly recHeader = Buffer.alloc(5);
  private recHeaderHave = 0;
  private recRemain = 0;
  private readonly hsHeader = Buffer.alloc(4);
  private hsHeaderHave = 0;
  private body: Buffer | null = null;
  private bodyHave = 0;
  private consumed = 0;
  /** Set when done: what the hello says, or why it could not be read. */
  info: HelloInfo | null = null;
  error: string | null = null;

  /** @param maxHello largest ClientHello body accepted (bytes). */
  constructor(private readonly maxHello: number) {}

  push(chunk: Buffer): ReadStatus {
    let p = 0;
    while (p < chunk.length && this.state !== S_DONE) {
      if (this.state === S_REC_HEADER) {
        const n = Math.min(5 - this.recHeaderHave, chunk.length - p);
        chunk.copy(this.recHeader, this.recHeaderHave, p, p + n);
        this.recHeaderHave += n;
        p += n;
        if (this.recHeaderHave === 5) this.recordHeader();
      } else {
        const n = Math.min(this.recRemain, chunk.length - p);
        this.handshakeBytes(chunk, p, p + n);
        p += n;
        this.recRemain -= n;
        if (this.recRemain === 0 && this.state === S_REC_BODY) {
          this.state = S_REC_HEADER;
          this.recHeaderHave = 0;
        }
      }
    }
    this.consumed += p;
    // Many tiny records around a small hello: the framing overhead is bounded too.
    if (this.state !== S_DONE && this.consumed > 4 * this.maxHello) this.fail('ClientHello spread over too many records');
    return this.state === S_DONE ? 'done' : 'more';
  }

  /** The stream ended (or must be decided) before the hello was complete. */
  truncate(): void {
    if (this.state !== S_DONE) this.fail('stream ended inside the ClientHello');
  }

  private fail(error: string): void {
    this.state = S_DONE;
    this.error = error;
    this.body = null;
  }

  private recordHeader(): void {
    const h = this.recHeader;
    const len = h.readUInt16BE(3);
    if (h[0] !== CONTENT_HANDSHAKE) return this.fail(`record type ${h[0]} before the ClientHello was complete`);
    if (h[1] !== 3 || (h[2] as number) > 4) return this.fail(`bad record version ${h[1]}.${h[2]}`);
    if (len === 0 || len > MAX_RECORD) return this.fail(`bad record length ${len}`);
    this.recRemain = len;
    this.state = S_REC_BODY;
  }

  private handshakeBytes(chunk: Buffer, start: number, end: number): void {
    let p = start;
    if (this.hsHeaderHave < 4) {
      const n = Math.min(4 - this.hsHeaderHave, end - p);
      chunk.copy(this.hsHeader, this.hsHeaderHave, p, p + n);
      this.hsHeaderHave += n;
      p += n;
      if (this.hsHeaderHave < 4) return;
      const type = this.hsHeader[0] as number;
      const len = this.hsHeader.readUIntBE(1, 3);
      if (type !== HANDSHAKE_CLIENT_HELLO) return this.fail(`handshake type ${type} where a ClientHello was expected`);
      // Checked before anything is buffered.
      if (len > this.maxHello) return this.fail(`ClientHello of ${len} bytes is over the ${this.maxHello}-byte limit`);
      if (len < 35) return this.fail(`ClientHello of ${len} bytes is too short`);
      this.body = Buffer.allocUnsafe(len);
    }
    const body = this.body as Buffer;
    const n = Math.min(body.length - this.bodyHave, end - p);
    chunk.copy(body, this.bodyHave, p, p + n);
    this.bodyHave += n;
    if (this.bodyHave === body.length) {
      const r = parseClientHello(body);
      this.state = S_DONE;
      this.body = null;
      if (r.ok) this.info = r.info;
      else this.error = r.error;
    }
  }
}
