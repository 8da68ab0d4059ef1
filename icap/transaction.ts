// One REQMOD/RESPMOD exchange: feeds the body to the handler (lazily),
// turns its verdict into a response, and keeps the wire in sync (100
// Continue, streamed echo, discarding an unneeded virgin body).
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { IcapBody, type BodySource } from './body';
import { getHeader, serializeHttpHead, withHeader, withoutHeaders } from './http-head';
import type { ParsedRequest } from './parser';
import { IcapRequestImpl } from './request';
import type { ResponseHeads } from './responses';
import type { Settings } from './settings';
import { TrickleBody } from './trickle';
import type { AdaptMethod, HttpHeadOut, IcapService, IcapVerdict, Trickle, VerdictBody } from './types';
import { chunkHeader, CRLF_LAST_CHUNK, headBytes, LAST_CHUNK } from './wire';

/** What a transaction needs from its connection. */
export interface TxnHost {
  readonly socket: Socket;
  readonly heads: ResponseHeads;
  readonly settings: Settings;
  readonly connectionId: string;
  readonly clientLabel: string;
  /** Server draining or client asked for Connection: close. */
  mustClose(): boolean;
  parserResume(): void;
  parserContinuePreview(): void;
  txnFinished(closeAfter: boolean): void;
  destroy(reason: string): void;
  bytesIn(): number;
}

const BUFFER = 0; // handler has not opened the body: hold up to the high-water mark
const READABLE = 1; // bytes go to req.body
const ECHO = 2; // bytes go straight back out as chunks
const DISCARD = 3; // answered already: drop the rest
const ECHO_HOLD = 4; // echo whose small remainder is in flight: send all in one write at the end
const TRICKLE = 5; // answer under way, bytes go out and to the handler's sink, the tail waits for the decision

/**
 * An echo whose remaining body (by Content-Length) fits in this many bytes is
 * held until the body ends and written at once: fewer syscalls and segments
 * for the common "whole body already on its way" case, still bounded memory.
 */
const ECHO_HOLD_BYTES = 256 * 1024;

/** Below this, a response is assembled into one buffer (one syscall, no writev). */
const COALESCE_BYTES = 16384;

type HdrKind = 'req-hdr' | 'res-hdr';
interface OutHead {
  kind: HdrKind;
  bytes: Buffer;
}

export class Transaction implements BodySource {
  readonly req: IcapRequestImpl;
  status = 0;
  private readonly t0 = performance.now();
  private mode = BUFFER;
  private queue: Buffer[] = [];
  private queued = 0;
  private body: IcapBody | null = null;
  private replay: Buffer[] | null = [];
  private pushed = 0;
  private bodySeen = 0;
  private held = false;
  private bodyDone = false;
  private previewWaiting = false;
  private continued = false;
  private pending: IcapVerdict | null = null;
  private responseStarted = false;
  private responseDone = false;
  private closeAfter = false;
  private finished = false;
  private chunkOpen = false;
  private discarded = 0;
  private outStream: Readable | null = null;
  private trickle: TrickleBody | null = null;
  bytesOut = 0;

  constructor(
    private readonly host: TxnHost,
    private readonly service: IcapService,
    private readonly parsed: ParsedRequest,
    id: string,
  ) {
    const s = host.socket;
    this.req = new IcapRequestImpl(
      id, host.connectionId, parsed.head.method as AdaptMethod, parsed,
      s.remoteAddress ?? '', s.remotePort ?? 0, () => this.openBody(),
    );
    this.closeAfter = host.mustClose();
  }

  start(): void {
    let p: Promise<IcapVerdict>;
    try {
      p = this.service.handle(this.req);
    } catch (err) {
      this.serverError('handler threw', err);
      return;
    }
    p.then(
      (v) => this.onVerdict(v),
      (err: unknown) => this.serverError('handler rejected', err),
    );
  }

  // ---- body input (from the parser) ----

  onBody(chunk: Buffer): boolean {
    this.bodySeen += chunk.length;
    switch (this.mode) {
      case BUFFER: {
        this.queue.push(chunk);
        this.queued += chunk.length;
        if (this.queued < this.bufferLimit()) return true;
        this.held = true;
        return false;
      }
      case READABLE: {
        if (this.pushBody(chunk) || this.body!.isWanting()) return true;
        this.held = true;
        return false;
      }
      case ECHO:
        if (this.writeChunk(chunk)) return true;
        this.held = true;
        return false;
      case TRICKLE:
        if (this.trickle!.push(chunk)) return true;
        this.held = true;
        return false;
      case ECHO_HOLD:
        this.queue.push(chunk);
        this.queued += chunk.length;
        // A client sending more than it announced: fall back to streaming.
        if (this.queued <= ECHO_HOLD_BYTES || this.flushHeld()) return true;
        this.held = true;
        return false;
      default:
        this.discarded += chunk.length;
        if (this.discarded > this.host.settings.maxDiscardBytes && !this.closeAfter) {
          this.host.destroy('virgin body longer than announced after an early response');
          return false;
        }
        return true;
    }
  }

  onPreviewEnd(): void {
    this.previewWaiting = true;
    if (this.pending !== null) this.apply(this.pending);
    else if (this.mode === READABLE && this.body!.isWanting() && this.body!.readableLength === 0) this.sendContinue();
  }

  onMessageEnd(): void {
    this.bodyDone = true;
    this.previewWaiting = false;
    if (this.mode === READABLE) this.body!.push(null);
    else if (this.mode === ECHO) this.endEcho();
    else if (this.mode === ECHO_HOLD) this.endHeld();
    else if (this.mode === TRICKLE) this.trickle!.end();
    if (this.pending !== null) this.apply(this.pending);
    this.maybeFinish();
  }

  /** Socket drained: resume whichever producer was waiting on it. */
  onDrain(): void {
    if (this.mode === ECHO && this.held) this.release();
    else if (this.mode === TRICKLE) this.trickle!.onSocketDrain();
    if (this.outStream !== null && this.outStream.isPaused()) this.outStream.resume();
  }

  /** The transaction made no progress for transactionTimeoutMs. */
  onTimeout(): void {
    if (this.finished) return;
    if (this.responseStarted) {
      this.host.destroy('transaction timeout mid-response');
      return;
    }
    this.status = 408;
    this.closeAfter = true;
    this.write(this.host.heads.simple(408, true));
    this.responseStarted = this.responseDone = true;
    this.detachBody();
    this.finish();
  }

  /** The connection died under us. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.body !== null && !this.bodyDone) this.body.destroy(new Error('ICAP connection closed'));
    this.outStream?.destroy();
    this.trickle?.dispose();
    this.observe();
  }

  // ---- req.body ----

  private bufferLimit(): number {
    const hwm = this.host.settings.bodyHighWaterMark;
    const pv = this.req.preview;
    // The whole preview must be read before any answer, so hold all of it (capped).
    if (pv !== null && !this.continued) return Math.max(hwm, Math.min(pv + 1, this.host.settings.replayBufferBytes));
    return hwm;
  }

  private openBody(): Readable {
    if (this.body !== null) return this.body;
    const body = new IcapBody(this.host.settings.bodyHighWaterMark, this);
    this.body = body;
    if (this.mode !== BUFFER) {
      // Asked for after the verdict: nothing more will be delivered.
      body.push(null);
      return body;
    }
    this.mode = READABLE;
    for (const c of this.queue) this.pushBody(c);
    this.queue = [];
    this.queued = 0;
    if (this.bodyDone) body.push(null);
    return body;
  }

  private pushBody(chunk: Buffer): boolean {
    this.pushed += chunk.length;
    if (this.replay !== null) {
      if (this.pushed <= this.host.settings.replayBufferBytes) this.replay.push(chunk);
      else this.replay = null;
    }
    this.body!.answered();
    return this.body!.push(chunk);
  }

  bodyWanted(): void {
    if (this.mode !== READABLE) return;
    if (this.held) {
      this.release();
    } else if (this.previewWaiting && !this.continued && this.body!.readableLength === 0) {
      this.sendContinue();
    }
  }

  private sendContinue(): void {
    this.continued = true;
    this.previewWaiting = false;
    this.write(this.host.heads.continue100());
    this.host.parserContinuePreview();
  }

  /**
   * After an answer whose parts began with the 100 Continue a still-open
   * preview needed (unlike sendContinue, which writes it): the parser goes on
   * to the rest of the body; otherwise the paused parser resumes.
   */
  private continueOrRelease(needContinue: boolean): void {
    if (needContinue) {
      this.continued = true;
      this.previewWaiting = false;
      this.host.parserContinuePreview();
    } else {
      this.release();
    }
  }

  private release(): void {
    if (!this.held) return;
    this.held = false;
    this.host.parserResume();
  }

  private detachBody(): void {
    if (this.body !== null && !this.bodyDone) this.body.destroy();
    this.queue = [];
    this.queued = 0;
    this.replay = null;
  }

  // ---- verdicts ----

  private onVerdict(v: IcapVerdict): void {
    if (this.finished || this.responseStarted) return;
    // Inside a preview, answer only once the preview is complete.
    if (this.req.preview !== null && !this.continued && !this.previewWaiting && !this.bodyDone) {
      this.pending = v;
      return;
    }
    this.apply(v);
  }

  private apply(v: IcapVerdict): void {
    this.pending = null;
    if (this.finished || this.responseStarted) return;
    try {
      switch (v.kind) {
        case 'allow':
          return this.allow();
        case 'block':
          return this.block(v.response, v.body);
        case 'modify':
          return this.modify(v.request, v.response, v.body === undefined ? 'original' : v.body);
        case 'trickle':
          return this.startTrickle(v);
        default:
          throw new Error(`unknown verdict kind ${(v as { kind: unknown }).kind}`);
      }
    } catch (err) {
      this.serverError('cannot serialize verdict', err);
    }
  }

  private allow(): void {
    if ((this.req.preview !== null && !this.continued) || this.req.allow204) {
      this.status = 204;
      const close = this.decideClose(true);
      this.write(this.host.heads.simple(204, close));
      this.responseStarted = this.responseDone = true;
      this.discardRest();
      this.maybeFinish();
      return;
    }
    this.sendOriginalBody(this.originalHead());
  }

  private block(response: HttpHeadOut, body: Buffer | null): void {
    this.sendFixed({ kind: 'res-hdr', bytes: headBytes(serializeHttpHead(fixLength(response, body, true))) }, 'res-body', body);
  }

  private modify(request: HttpHeadOut | undefined, response: HttpHeadOut | undefined, body: VerdictBody): void {
    const isReq = this.req.method === 'REQMOD';
    const replacement = isReq ? request : response;
    const bodyKind = isReq ? 'req-body' : 'res-body';
    if (body === 'original') {
      const head = replacement === undefined ? this.originalHead() : { kind: hdrKind(isReq), bytes: headBytes(serializeHttpHead(replacement)) };
      this.sendOriginalBody(head);
      return;
    }
    const base = replacement ?? this.originalHeadOut();
    if (body === null || Buffer.isBuffer(body)) {
      const head = base === undefined ? null : { kind: hdrKind(isReq), bytes: headBytes(serializeHttpHead(fixLength(base, body, !isReq))) };
      this.sendFixed(head, bodyKind, body);
      return;
    }
    // A stream's length is unknown up front: drop Content-Length, the client re-frames.
    const head = base === undefined ? null : {
      kind: hdrKind(isReq),
      bytes: headBytes(serializeHttpHead({ startLine: base.startLine, headers: withoutHeaders(base.headers, ['content-length']) })),
    };
    this.sendStream(head, bodyKind, body);
  }

  /** The head an echo carries: REQMOD the request, RESPMOD the response (200 must hold res-hdr). */
  private originalHead(): OutHead | null {
    const p = this.parsed;
    const l = p.layout;
    if (this.req.method === 'REQMOD') {
      return l.reqHdr >= 0 ? { kind: 'req-hdr', bytes: p.raw.subarray(l.reqHdr, l.bodyOffset) } : null;
    }
    return l.resHdr >= 0 ? { kind: 'res-hdr', bytes: p.raw.subarray(l.resHdr, l.bodyOffset) } : null;
  }

  private originalHeadOut(): HttpHeadOut | undefined {
    const h = this.req.method === 'REQMOD' ? this.parsed.httpRequest : this.parsed.httpResponse;
    return h === undefined ? undefined : { startLine: h.startLine, headers: h.headers };
  }

  private encapsulated(head: OutHead | null, bodyKind: string, hasBody: boolean): string {
    const b = hasBody ? bodyKind : 'null-body';
    return head === null ? `${b}=0` : `${head.kind}=0, ${b}=${head.bytes.length}`;
  }

  /** 200 with `head` and the virgin body streamed back as it arrives. */
  private sendOriginalBody(head: OutHead | null): void {
    const isReq = this.req.method === 'REQMOD';
    const hasBody = this.req.hasBody;
    const data = this.takeVirgin();
    if (data === null) return;
    const needContinue = hasBody && this.previewWaiting && !this.continued;
    const close = this.decideClose(false);
    const parts: Array<Buffer | string> = [];
    if (needContinue) parts.push(this.host.heads.continue100());
    parts.push(this.host.heads.encap(close, this.encapsulated(head, isReq ? 'req-body' : 'res-body', hasBody)));
    if (head !== null) parts.push(head.bytes);
    let n = 0;
    for (const d of data) n += d.length;
    if (n > 0) {
      parts.push(chunkHeader(n));
      for (const d of data) parts.push(d);
      this.chunkOpen = true;
    }
    this.status = 200;
    this.responseStarted = true;
    if (!hasBody) {
      this.writeParts(parts);
      this.responseDone = true;
      this.maybeFinish();
      return;
    }
    if (this.bodyDone) {
      parts.push(this.chunkOpen ? CRLF_LAST_CHUNK : LAST_CHUNK);
      this.chunkOpen = false;
      this.writeParts(parts);
      this.responseDone = true;
      this.maybeFinish();
      return;
    }
    if (!needContinue) {
      const rem = this.remainingEstimate();
      if (rem !== undefined && n + rem <= ECHO_HOLD_BYTES) {
        this.mode = ECHO_HOLD;
        this.heldParts = parts;
        this.release();
        return;
      }
    }
    this.mode = ECHO;
    this.writeParts(parts);
    this.continueOrRelease(needContinue);
  }

  /** The virgin body received so far (queued, or replayed when the handler read it); null after a 500. */
  private takeVirgin(): Buffer[] | null {
    let data = this.queue;
    if (this.mode === READABLE) {
      const body = this.body!;
      const consumed = this.pushed - body.readableLength;
      if (this.replay !== null) data = this.replay;
      else if (consumed === 0) data = drain(body);
      else {
        this.serverError('handler read more body than the replay buffer holds', undefined);
        return null;
      }
      this.detachBody();
    }
    this.queue = [];
    this.queued = 0;
    return data;
  }

  /** 200 with the original head now; the body follows as it arrives, its tail after the decision. */
  private startTrickle(v: Trickle): void {
    if (!this.req.hasBody) {
      v.sink.end();
      this.allow();
      return;
    }
    const data = this.takeVirgin();
    if (data === null) {
      v.sink.destroy(new Error('ICAP transaction failed before the answer'));
      return;
    }
    const isReq = this.req.method === 'REQMOD';
    const head = this.originalHead();
    const needContinue = this.previewWaiting && !this.continued;
    const close = this.decideClose(false);
    const parts: Array<Buffer | string> = [];
    if (needContinue) parts.push(this.host.heads.continue100());
    parts.push(this.host.heads.encap(close, this.encapsulated(head, isReq ? 'req-body' : 'res-body', true)));
    if (head !== null) parts.push(head.bytes);
    this.status = 200;
    this.responseStarted = true;
    this.writeParts(parts);
    this.mode = TRICKLE;
    const t = new TrickleBody({
      writeChunk: (c) => this.writeChunk(c),
      endBody: () => {
        if (this.finished) return;
        this.endEcho();
        this.maybeFinish();
      },
      resume: () => this.release(),
      abort: (reason) => {
        if (!this.finished) this.host.destroy(`answer cut mid-body (${reason})`);
      },
    }, v.sink, v.holdBackBytes, v.decision);
    this.trickle = t;
    let go = true;
    for (const d of data) go = t.push(d) && go;
    if (this.bodyDone) {
      t.end();
      return;
    }
    if (!go) this.held = true;
    // With the parser paused the continued body waits in the socket until resume().
    this.continueOrRelease(needContinue);
  }

  /** Head and first bytes of a held echo, waiting for the body to end. */
  private heldParts: Array<Buffer | string> | null = null;

  private endHeld(): void {
    const parts = this.heldParts!;
    this.heldParts = null;
    // The head announced one chunk of the bytes queued at verdict time; later bytes follow as one more chunk.
    if (this.queued > 0) {
      parts.push((this.chunkOpen ? '\r\n' : '') + chunkHeader(this.queued));
      for (const d of this.queue) parts.push(d);
      this.chunkOpen = true;
    }
    parts.push(this.chunkOpen ? CRLF_LAST_CHUNK : LAST_CHUNK);
    this.queue = [];
    this.queued = 0;
    this.chunkOpen = false;
    this.writeParts(parts);
    this.responseDone = true;
  }

  /** Held echo grew past its window: send what we have and stream the rest. */
  private flushHeld(): boolean {
    const parts = this.heldParts!;
    this.heldParts = null;
    parts.push((this.chunkOpen ? '\r\n' : '') + chunkHeader(this.queued));
    for (const d of this.queue) parts.push(d);
    this.chunkOpen = true;
    this.queue = [];
    this.queued = 0;
    this.mode = ECHO;
    this.writeParts(parts);
    return !this.host.socket.writableNeedDrain;
  }

  private writeChunk(chunk: Buffer): boolean {
    if (chunk.length === 0) return true;
    const s = this.host.socket;
    const hdr = (this.chunkOpen ? '\r\n' : '') + chunkHeader(chunk.length);
    this.chunkOpen = true;
    s.cork();
    s.write(hdr, 'latin1');
    s.write(chunk);
    s.uncork();
    this.bytesOut += hdr.length + chunk.length;
    return !s.writableNeedDrain;
  }

  private endEcho(): void {
    this.write(this.chunkOpen ? CRLF_LAST_CHUNK : LAST_CHUNK);
    this.chunkOpen = false;
    this.responseDone = true;
  }

  /** 200 with a head and a body known in full (block, buffered modify). */
  private sendFixed(head: OutHead | null, bodyKind: string, body: Buffer | null): void {
    const close = this.decideClose(true);
    const parts: Array<Buffer | string> = [this.host.heads.encap(close, this.encapsulated(head, bodyKind, body !== null))];
    if (head !== null) parts.push(head.bytes);
    if (body !== null) {
      if (body.length > 0) parts.push(chunkHeader(body.length), body, CRLF_LAST_CHUNK);
      else parts.push(LAST_CHUNK);
    }
    this.status = 200;
    this.responseStarted = true;
    this.writeParts(parts);
    this.responseDone = true;
    this.discardRest();
    this.maybeFinish();
  }

  /** 200 with a head and a body produced by the handler's stream. */
  private sendStream(head: OutHead | null, bodyKind: string, stream: Readable): void {
    const close = this.decideClose(true);
    const parts: Array<Buffer | string> = [this.host.heads.encap(close, this.encapsulated(head, bodyKind, true))];
    if (head !== null) parts.push(head.bytes);
    this.status = 200;
    this.responseStarted = true;
    this.writeParts(parts);
    this.discardRest();
    this.outStream = stream;
    stream.on('data', (c: Buffer | string) => {
      if (this.finished) return;
      if (!this.writeChunk(typeof c === 'string' ? Buffer.from(c) : c)) stream.pause();
    });
    stream.once('end', () => {
      if (this.finished) return;
      this.outStream = null;
      this.endEcho();
      this.maybeFinish();
    });
    stream.once('error', (err: Error) => {
      this.host.settings.logger.error(
        { conn: this.host.connectionId, client: this.host.clientLabel, req: this.req.id, err: err.message },
        'ICAP modify body stream failed mid-response',
      );
      this.host.destroy('modify body stream failed');
    });
  }

  /**
   * Whether this response must close the connection. When we will not read
   * the rest of the virgin body ourselves, we only keep the connection if the
   * remainder is known to be small enough to read and drop.
   */
  private decideClose(willDiscard: boolean): boolean {
    if (this.closeAfter || this.host.mustClose()) return (this.closeAfter = true);
    if (willDiscard && !this.bodyDone && !(this.previewWaiting && !this.continued)) {
      const rem = this.remainingEstimate();
      if (rem === undefined || rem > this.host.settings.maxDiscardBytes) this.closeAfter = true;
    }
    return this.closeAfter;
  }

  private remainingEstimate(): number | undefined {
    const h = this.req.method === 'REQMOD' ? this.req.httpRequest : this.req.httpResponse;
    const cl = h === undefined ? undefined : getHeader(h.headers, 'content-length');
    if (cl === undefined || !/^\s*\d{1,15}\s*$/.test(cl)) return undefined;
    return Math.max(0, Number(cl) - this.bodySeen);
  }

  /** After a final answer: nothing more of the virgin body is needed. */
  private discardRest(): void {
    this.detachBody();
    if (!this.bodyDone && !(this.previewWaiting && !this.continued)) this.mode = DISCARD;
    this.release();
  }

  private serverError(what: string, err: unknown): void {
    this.host.settings.logger.error(
      { conn: this.host.connectionId, client: this.host.clientLabel, req: this.req.id, service: this.service.path,
        err: err instanceof Error ? err.message : err === undefined ? undefined : String(err) },
      `ICAP ${what}`,
    );
    if (this.finished) return;
    if (this.responseStarted) {
      this.host.destroy(what);
      return;
    }
    this.status = 500;
    this.closeAfter = true;
    this.write(this.host.heads.simple(500, true));
    this.responseStarted = this.responseDone = true;
    this.discardRest();
    this.maybeFinish();
  }

  // ---- output ----

  private write(data: Buffer | string): void {
    this.bytesOut += data.length;
    if (typeof data === 'string') this.host.socket.write(data, 'latin1');
    else this.host.socket.write(data);
  }

  /** Write a response in one go: one buffer when small, else one corked writev. */
  private writeParts(parts: Array<Buffer | string>): void {
    let total = 0;
    for (const p of parts) total += p.length;
    this.bytesOut += total;
    const s = this.host.socket;
    if (total <= COALESCE_BYTES) {
      const out = Buffer.allocUnsafe(total);
      let o = 0;
      for (const p of parts) o += typeof p === 'string' ? out.write(p, o, 'latin1') : p.copy(out, o);
      s.write(out);
      return;
    }
    s.cork();
    for (const p of parts) {
      if (typeof p === 'string') s.write(p, 'latin1');
      else s.write(p);
    }
    s.uncork();
  }

  private maybeFinish(): void {
    if (this.finished || !this.responseDone) return;
    const requestComplete = this.bodyDone || (this.previewWaiting && !this.continued);
    if (!requestComplete && !this.closeAfter) return;
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.observe();
    this.host.txnFinished(this.closeAfter);
  }

  private observe(): void {
    const obs = this.host.settings.observer;
    if (obs?.onTransaction === undefined) return;
    obs.onTransaction({
      method: this.req.method, service: this.service.path, status: this.status,
      durationMs: performance.now() - this.t0, bytesIn: this.host.bytesIn(), bytesOut: this.bytesOut,
    });
  }
}

function hdrKind(isReq: boolean): HdrKind {
  return isReq ? 'req-hdr' : 'res-hdr';
}

/** Content-Length must match a body we know in full; a null body means none. */
function fixLength(head: HttpHeadOut, body: Buffer | null, isResponse: boolean): HttpHeadOut {
  const headers = withoutHeaders(head.headers, ['transfer-encoding']);
  if (body !== null) return { startLine: head.startLine, headers: withHeader(headers, 'Content-Length', String(body.length)) };
  if (isResponse) return { startLine: head.startLine, headers: withHeader(headers, 'Content-Length', '0') };
  return { startLine: head.startLine, headers: withoutHeaders(headers, ['content-length']) };
}

function drain(body: Readable): Buffer[] {
  const out: Buffer[] = [];
  for (let c: unknown = body.read(); c !== null; c = body.read()) if (Buffer.isBuffer(c)) out.push(c);
  return out;
}
