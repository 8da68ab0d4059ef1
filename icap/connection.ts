// One client socket: feeds the parser, routes requests to services (or
// answers OPTIONS and errors itself), runs one transaction at a time, and
// owns the idle / transaction / linger timeouts.
import type { Socket } from 'node:net';
import type { EncapsulatedLayout } from './encapsulated';
import { IcapProtocolError } from './errors';
import type { IcapHead } from './icap-head';
import { splitIcapUri } from './icap-head';
import { IcapParser, type ParsedRequest, type ParserSink } from './parser';
import type { ResponseHeads } from './responses';
import type { Settings } from './settings';
import { Transaction, type TxnHost } from './transaction';
import type { IcapMethod, IcapService } from './types';

export interface ConnectionOwner {
  draining(): boolean;
  connectionClosed(conn: IcapConnection): void;
}

const T_IDLE = 1;
const T_TXN = 2;
const T_LINGER = 3;

export class IcapConnection implements ParserSink, TxnHost {
  readonly clientLabel: string;
  private readonly parser: IcapParser;
  private txn: Transaction | null = null;
  private service: IcapService | null = null;
  private method: IcapMethod | 'UNKNOWN' = 'UNKNOWN';
  private seq = 0;
  private closing = false;
  private clientEnded = false;
  private clientClose = false;
  private socketPaused = false;
  private timerKind = 0;
  private optionsStatus = 0;
  private optionsOut = 0;

  constructor(
    readonly socket: Socket,
    readonly connectionId: string,
    readonly settings: Settings,
    readonly heads: ResponseHeads,
    private readonly owner: ConnectionOwner,
    private readonly refuse: boolean,
  ) {
    this.clientLabel = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.parser = new IcapParser(settings.limits, this);
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('drain', () => this.txn?.onDrain());
    socket.on('timeout', () => this.onTimeout());
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => {
      settings.logger.debug({ conn: connectionId, client: this.clientLabel, err: err.message }, 'ICAP socket error');
    });
    socket.on('close', () => this.onClose());
    this.setTimer(T_IDLE);
  }

  busy(): boolean {
    return this.txn !== null || !this.parser.idle();
  }

  /** Server is draining: close now if idle, otherwise after the current exchange. */
  drain(): void {
    if (!this.busy()) this.closeGracefully();
  }

  destroy(reason: string): void {
    this.settings.logger.warn({ conn: this.connectionId, client: this.clientLabel, reason }, 'ICAP connection destroyed');
    this.socket.destroy();
  }

  // ---- TxnHost ----

  mustClose(): boolean {
    return this.clientClose || this.owner.draining();
  }

  parserResume(): void {
    this.parser.resume();
    this.updateFlow();
  }

  parserContinuePreview(): void {
    this.parser.continuePreview();
    this.updateFlow();
  }

  bytesIn(): number {
    return this.parser.consumed;
  }

  txnFinished(closeAfter: boolean): void {
    this.txn = null;
    this.service = null;
    if (closeAfter || this.mustClose()) {
      this.closeGracefully();
      return;
    }
    this.setTimer(T_IDLE);
    this.parser.nextMessage();
    this.afterMessage();
  }

  // ---- socket events ----

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    if (this.timerKind === T_IDLE && this.txn === null) this.setTimer(T_TXN);
    // Everything this chunk triggers (echo chunks, last chunk) leaves in one writev.
    const s = this.socket;
    s.cork();
    this.parser.execute(chunk);
    s.uncork();
    this.updateFlow();
  }

  private onEnd(): void {
    this.clientEnded = true;
    // Half-close after the last request: answer it, then close.
    if (!this.busy()) this.closeGracefully();
  }

  private onTimeout(): void {
    if (this.closing || this.timerKind === T_LINGER) {
      this.socket.destroy();
      return;
    }
    if (this.txn !== null) {
      this.settings.logger.warn({ conn: this.connectionId, client: this.clientLabel, req: this.txn.req.id }, 'ICAP transaction timeout');
      this.txn.onTimeout();
      return;
    }
    if (this.parser.midHead() || this.timerKind === T_TXN && !this.parser.idle()) {
      this.settings.logger.info({ conn: this.connectionId, client: this.clientLabel }, 'ICAP request head timeout');
      this.reply(408, true);
      this.closeGracefully();
      return;
    }
    // Idle keep-alive expired: close quietly.
    this.socket.destroy();
  }

  private onClose(): void {
    this.closing = true;
    this.parser.destroy();
    this.txn?.abort();
    this.txn = null;
    this.owner.connectionClosed(this);
  }

  // ---- ParserSink ----

  onIcapHead(head: IcapHead, layout: EncapsulatedLayout): boolean {
    this.method = head.method;
    const conn = head.headers.get('connection');
    this.clientClose = conn !== undefined && /(^|,)\s*close\s*(,|$)/i.test(conn);
    // A rejected request whose encapsulated part is empty leaves the stream in sync.
    const inSync = layout.bodyOffset === 0 && layout.body === 'null-body';
    if (this.refuse || this.owner.draining()) {
      this.reply(503, true);
      this.closeGracefully();
      return false;
    }
    const { path } = splitIcapUri(head.uri);
    const service = this.settings.services.get(path);
    if (service === undefined || (head.method !== 'OPTIONS' && service.method !== head.method)) {
      const status = service === undefined ? 404 : 405;
      this.settings.logger.info({ conn: this.connectionId, client: this.clientLabel, method: head.method, uri: head.uri, status }, 'ICAP request refused');
      const close = !inSync || this.mustClose();
      this.reply(status, close);
      if (close) this.closeGracefully();
      else this.nextAfterReply();
      return false;
    }
    this.service = service;
    return true;
  }

  onRequest(req: ParsedRequest): void {
    const service = this.service!;
    if (req.head.method === 'OPTIONS') {
      const close = this.mustClose();
      const text = this.heads.options(service, this.settings, close);
      this.socket.write(text, 'latin1');
      this.optionsStatus = 200;
      this.optionsOut = text.length;
      return;
    }
    this.setTimer(T_TXN);
    this.txn = new Transaction(this, service, req, `${this.connectionId}-${++this.seq}`);
    this.txn.start();
  }

  onBody(chunk: Buffer): boolean {
    // OPTIONS opt-body: read and ignored (RFC 3507 defines no request opt-body use).
    return this.txn === null ? true : this.txn.onBody(chunk);
  }

  onPreviewEnd(): void {
    this.txn?.onPreviewEnd();
  }

  onMessageEnd(): void {
    if (this.txn !== null) {
      this.txn.onMessageEnd();
      return;
    }
    if (this.optionsStatus !== 0) {
      this.observe('OPTIONS', 200, this.optionsOut);
      this.optionsStatus = 0;
      if (this.mustClose()) this.closeGracefully();
      else this.nextAfterReply();
    }
  }

  onError(err: IcapProtocolError): void {
    this.settings.logger.info(
      { conn: this.connectionId, client: this.clientLabel, status: err.status, reason: err.message },
      'ICAP protocol error',
    );
    if (this.txn !== null && this.txnStarted()) {
      // A response is already on the wire: nothing valid can follow.
      this.socket.destroy();
      return;
    }
    this.txn?.abort();
    this.txn = null;
    this.reply(err.status, true);
    this.closeGracefully();
  }

  // ---- helpers ----

  private txnStarted(): boolean {
    return this.txn !== null && this.txn.status !== 0;
  }

  private reply(status: number, close: boolean): void {
    const text = this.heads.simple(status, close);
    this.socket.write(text, 'latin1');
    this.observe(this.method, status, text.length);
  }

  private nextAfterReply(): void {
    this.service = null;
    this.setTimer(T_IDLE);
    // Called from inside the parser: it picks the next message up on return.
    this.parser.nextMessage();
  }

  private afterMessage(): void {
    if (this.clientEnded && !this.busy()) this.closeGracefully();
    else this.updateFlow();
  }

  private observe(method: IcapMethod | 'UNKNOWN', status: number, bytesOut: number): void {
    const obs = this.settings.observer;
    if (obs?.onTransaction === undefined) return;
    obs.onTransaction({
      method, service: this.service?.path ?? '', status, durationMs: 0, bytesIn: this.parser.consumed, bytesOut,
    });
  }

  /** Pause the socket while the parser cannot take more. */
  private updateFlow(): void {
    if (this.closing) return;
    const p = this.parser;
    const pause = p.stopped() && (p.isPaused() || p.buffered() > this.settings.pipelineBytes);
    if (pause !== this.socketPaused) {
      this.socketPaused = pause;
      if (pause) this.socket.pause();
      else this.socket.resume();
    }
  }

  private setTimer(kind: number): void {
    if (this.timerKind === kind) return;
    this.timerKind = kind;
    const s = this.settings;
    this.socket.setTimeout(kind === T_IDLE ? s.idleTimeoutMs : kind === T_TXN ? s.transactionTimeoutMs : s.closeLingerMs);
  }

  /** End our side after the last response; drop whatever else arrives; destroy after a linger. */
  private closeGracefully(): void {
    if (this.closing) return;
    this.closing = true;
    this.parser.destroy();
    this.setTimer(T_LINGER);
    if (this.socketPaused) this.socket.resume();
    this.socket.end();
  }
}
