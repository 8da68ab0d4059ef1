// Incremental ICAP request parser: an explicit state machine over buffered
// chunks. Body bytes are handed out as zero-copy views; only partial lines
// and header blocks are accumulated, and never beyond the current state's
// limit (checked before the bytes are copied).
import { nullLayout, parseEncapsulated, type EncapsulatedLayout } from './encapsulated';
import { badRequest, IcapProtocolError } from './errors';
import { parseHttpHead, type ParsedHttpHead } from './http-head';
import { parseIcapHead, type IcapHead } from './icap-head';
import type { IcapLimits } from './types';

export interface ParsedRequest {
  head: IcapHead;
  layout: EncapsulatedLayout;
  /** The encapsulated header blocks exactly as received (for echo). */
  raw: Buffer;
  httpRequest: ParsedHttpHead | undefined;
  httpResponse: ParsedHttpHead | undefined;
  hasBody: boolean;
  preview: number | null;
}

export interface ParserSink {
  /** ICAP head parsed; return false to stop before reading the encapsulated part. */
  onIcapHead(head: IcapHead, layout: EncapsulatedLayout): boolean;
  /** Encapsulated heads parsed; the body (if any) follows through onBody. */
  onRequest(req: ParsedRequest): void;
  /** A decoded body slice (a view: copy it to keep it past the transaction). Return false to pause. */
  onBody(chunk: Buffer): boolean;
  /** Preview finished without ieof; parser waits for continuePreview() or nextMessage(). */
  onPreviewEnd(): void;
  /** The whole request has been read; parser waits for nextMessage(). */
  onMessageEnd(): void;
  onError(err: IcapProtocolError): void;
}

const HEAD = 0;
const ENCAP = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_CRLF = 4;
const TRAILER = 5;
const PREVIEW_WAIT = 6;
const DONE = 7;
const DEAD = 8;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const MAX_CHUNK_HEX_DIGITS = 13; // 2^52: stays an exact JS number

export class IcapParser {
  private state = HEAD;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private len = 0;
  /** buf is our own accumulator (bytes past len may be written). */
  private owned = false;
  private paused = false;
  private running = false;
  /** Bytes already scanned for the head terminator (avoids rescans). */
  private scanned = 0;

  private head: IcapHead | null = null;
  private layout: EncapsulatedLayout = nullLayout();
  private inPreview = false;
  private ieof = false;
  private remaining = 0;
  private trailerLines = 0;
  /** Bytes consumed since the current message began. */
  consumed = 0;

  constructor(
    private readonly limits: IcapLimits,
    private readonly sink: ParserSink,
  ) {}

  /** Bytes received but not yet parsed. */
  buffered(): number {
    return this.len - this.pos;
  }

  /** True between messages with nothing buffered. */
  idle(): boolean {
    return this.state === HEAD && this.len === this.pos;
  }

  /** True while a message has started arriving (head partly read). */
  midHead(): boolean {
    return this.state === HEAD && this.len > this.pos;
  }

  /** Paused by the sink (backpressure). */
  isPaused(): boolean {
    return this.paused;
  }

  /** True when waiting on the transaction (message complete or preview done). */
  stopped(): boolean {
    return this.paused || this.state >= PREVIEW_WAIT;
  }

  execute(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && this.state !== DEAD) {
      if (this.pos === this.len) {
        // Nothing pending: parse straight out of the socket's buffer.
        this.buf = chunk;
        this.pos = off;
        this.len = n;
        this.owned = false;
        off = n;
      } else {
        const room = this.budget() - (this.len - this.pos);
        if (room <= 0) {
          this.fail(badRequest('line or header block too long'));
          return;
        }
        const take = Math.min(room, n - off);
        this.append(chunk, off, off + take);
        off += take;
      }
      this.run();
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.run();
  }

  /** The server sent 100 Continue: read the rest of the body. */
  continuePreview(): void {
    if (this.state !== PREVIEW_WAIT) return;
    this.inPreview = false;
    this.state = CHUNK_SIZE;
    this.run();
  }

  /** The transaction is over: parse the next (possibly pipelined) request. */
  nextMessage(): void {
    if (this.state === DEAD) return;
    this.state = HEAD;
    this.head = null;
    this.layout = nullLayout();
    this.scanned = 0;
    this.consumed = 0;
    this.paused = false;
    this.run();
  }

  destroy(): void {
    this.state = DEAD;
    this.buf = Buffer.alloc(0);
    this.pos = this.len = 0;
  }

  /** Max bytes this state may hold buffered while it waits for more input. */
  private budget(): number {
    if (this.paused) return Infinity; // the connection pauses the socket
    switch (this.state) {
      case HEAD:
        return this.limits.maxIcapHeaderBytes;
      case ENCAP:
        return this.layout.bodyOffset;
      case CHUNK_SIZE:
      case TRAILER:
        return this.limits.maxLineBytes + 2;
      case CHUNK_DATA:
      case CHUNK_CRLF:
        return 2;
      default:
        return Infinity; // waiting on the transaction; the connection pauses the socket
    }
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const add = to - from;
    if (this.owned && this.len + add <= this.buf.length) {
      chunk.copy(this.buf, this.len, from, to);
      this.len += add;
      return;
    }
    // Never write below len: views handed out earlier must stay intact.
    const pending = this.len - this.pos;
    const next = Buffer.allocUnsafeSlow(Math.max(4096, (pending + add) * 2));
    this.buf.copy(next, 0, this.pos, this.len);
    chunk.copy(next, pending, from, to);
    this.buf = next;
    this.pos = 0;
    this.len = pending + add;
    this.owned = true;
  }

  private run(): void {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.paused && this.step());
    } catch (err) {
      if (err instanceof IcapProtocolError) this.fail(err);
      else this.fail(new IcapProtocolError(500, err instanceof Error ? err.message : String(err)));
    } finally {
      this.running = false;
    }
  }

  private fail(err: IcapProtocolError): void {
    this.destroy();
    this.sink.onError(err);
  }

  /** One transition; false when more input (or the transaction) is needed. */
  private step(): boolean {
    switch (this.state) {
      case HEAD:
        return this.stepHead();
      case ENCAP:
        return this.stepEncap();
      case CHUNK_SIZE:
        return this.stepChunkSize();
      case CHUNK_DATA: {
        const n = Math.min(this.remaining, this.len - this.pos);
        if (n === 0) return false;
        const slice = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        this.consumed += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = CHUNK_CRLF;
        if (!this.sink.onBody(slice)) this.paused = true;
        return true;
      }
      case CHUNK_CRLF:
        if (this.len - this.pos < 2) return false;
        if (this.buf[this.pos] !== 13 || this.buf[this.pos + 1] !== 10) throw badRequest('chunk data not followed by CRLF');
        this.pos += 2;
        this.consumed += 2;
        this.state = CHUNK_SIZE;
        return true;
      case TRAILER:
        return this.stepTrailer();
      default:
        return false;
    }
  }

  private stepHead(): boolean {
    // Tolerate stray CRLFs between messages (RFC 7230 §3.5).
    while (this.len - this.pos >= 2 && this.buf[this.pos] === 13 && this.buf[this.pos + 1] === 10) {
      this.pos += 2;
      this.scanned = 0;
    }
    const avail = this.len - this.pos;
    if (avail === 0) return false;
    const max = this.limits.maxIcapHeaderBytes;
    const from = this.pos + (this.scanned > 3 ? this.scanned - 3 : 0);
    const end = this.data().indexOf(CRLFCRLF, from);
    if (end < 0 || end + 4 - this.pos > max) {
      if (end >= 0 || avail >= max) throw badRequest(`ICAP header block longer than ${max} bytes`);
      this.scanned = avail;
      return false;
    }
    const text = this.buf.toString('latin1', this.pos, end);
    const head = parseIcapHead(text, this.limits);
    const headLen = end + 4 - this.pos;
    this.pos = end + 4;
    this.consumed += headLen;
    this.scanned = 0;
    const enc = head.headers.get('encapsulated');
    let layout: EncapsulatedLayout;
    if (enc === undefined) {
      // RFC 3507 errata e1: real clients omit it on OPTIONS.
      if (head.method !== 'OPTIONS') throw badRequest('missing Encapsulated header');
      layout = nullLayout();
    } else {
      layout = parseEncapsulated(enc, head.method, this.limits.maxHttpHeaderBytes);
    }
    let preview: number | null = null;
    const pv = head.headers.get('preview');
    if (pv !== undefined && head.method !== 'OPTIONS') {
      if (!/^\s*\d{1,9}\s*$/.test(pv)) throw badRequest('malformed Preview header');
      preview = Number(pv);
    }
    this.head = head;
    this.layout = layout;
    this.inPreview = preview !== null;
    this.ieof = false;
    this.state = DONE;
    if (!this.sink.onIcapHead(head, layout)) return this.state < PREVIEW_WAIT;
    this.state = ENCAP;
    return true;
  }

  private stepEncap(): boolean {
    const l = this.layout;
    const encLen = l.bodyOffset;
    if (this.len - this.pos < encLen) return false;
    const raw = this.buf.subarray(this.pos, this.pos + encLen);
    let httpRequest: ParsedHttpHead | undefined;
    let httpResponse: ParsedHttpHead | undefined;
    if (l.reqHdr >= 0) httpRequest = this.block(raw, l.reqHdr, l.resHdr >= 0 ? l.resHdr : encLen, 'req-hdr');
    if (l.resHdr >= 0) httpResponse = this.block(raw, l.resHdr, encLen, 'res-hdr');
    this.pos += encLen;
    this.consumed += encLen;
    const hasBody = l.body !== 'null-body';
    const head = this.head!;
    const previewHdr = head.method === 'OPTIONS' ? null : (head.headers.get('preview') ?? null);
    const preview = previewHdr === null ? null : Number(previewHdr);
    this.state = hasBody ? CHUNK_SIZE : DONE;
    this.trailerLines = 0;
    this.sink.onRequest({ head, layout: l, raw, httpRequest, httpResponse, hasBody, preview });
    if (!hasBody && this.state === DONE) this.sink.onMessageEnd();
    // The sink may already have moved us on (e.g. nextMessage for a pipelined request).
    return this.state < PREVIEW_WAIT;
  }

  private block(raw: Buffer, from: number, to: number, what: string): ParsedHttpHead {
    const text = raw.toString('latin1', from, to);
    if (text.length < 4 || text.indexOf('\r\n\r\n') !== text.length - 4) {
      throw badRequest(`${what}: block length does not match the Encapsulated offsets`);
    }
    return parseHttpHead(text, this.limits, what);
  }

  /** The valid bytes (an owned accumulator has unwritten space after len). */
  private data(): Buffer {
    return this.len === this.buf.length ? this.buf : this.buf.subarray(0, this.len);
  }

  private findLine(): number {
    const max = this.limits.maxLineBytes;
    const idx = this.data().indexOf(CRLF, this.pos);
    if (idx < 0) {
      if (this.len - this.pos > max) throw badRequest(`line longer than ${max} bytes`);
      return -1;
    }
    if (idx - this.pos > max) throw badRequest(`line longer than ${max} bytes`);
    return idx;
  }

  private stepChunkSize(): boolean {
    const eol = this.findLine();
    if (eol < 0) return false;
    const b = this.buf;
    let p = this.pos;
    let size = 0;
    let digits = 0;
    for (; p < eol; p++) {
      const c = b[p]!;
      let v: number;
      if (c >= 0x30 && c <= 0x39) v = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) v = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) v = c - 0x37;
      else break;
      if (++digits > MAX_CHUNK_HEX_DIGITS) throw badRequest('chunk size too large');
      size = size * 16 + v;
    }
    if (digits === 0) throw badRequest('malformed chunk size');
    if (p < eol) {
      // chunk-ext: only "ieof" means anything to ICAP; other extensions are tolerated.
      const ext = b.toString('latin1', p, eol);
      const semi = ext.indexOf(';');
      if (semi < 0 || ext.slice(0, semi).trim() !== '') throw badRequest('malformed chunk size line');
      if (size === 0) {
        for (const e of ext.slice(semi + 1).split(';')) if (e.trim().toLowerCase() === 'ieof') this.ieof = true;
      }
    }
    this.consumed += eol + 2 - this.pos;
    this.pos = eol + 2;
    if (size === 0) {
      this.state = TRAILER;
    } else {
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
    return true;
  }

  private stepTrailer(): boolean {
    const eol = this.findLine();
    if (eol < 0) return false;
    const empty = eol === this.pos;
    this.consumed += eol + 2 - this.pos;
    this.pos = eol + 2;
    if (!empty) {
      if (++this.trailerLines > this.limits.maxHeaderCount) throw badRequest('too many trailer lines');
      return true;
    }
    if (this.inPreview && !this.ieof) {
      this.state = PREVIEW_WAIT;
      this.sink.onPreviewEnd();
    } else {
      this.state = DONE;
      this.sink.onMessageEnd();
    }
    return this.state < PREVIEW_WAIT;
  }
}
