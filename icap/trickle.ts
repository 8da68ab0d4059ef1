// The body half of a 'trickle' answer: every virgin chunk goes to the
// handler's sink and, except for a held-back tail, straight out as a chunk
// of the response already under way. The tail waits for the decision, so an
// 'abort' leaves the client with an incomplete message. Memory: the tail
// (holdBackBytes) plus whatever the sink and the socket buffer; reading stops
// while either is full.
import type { Writable } from 'node:stream';
import type { TrickleDecision } from './types';

/** What the trickle needs from its transaction. */
export interface TrickleHost {
  /** Write one body chunk of the response; false when the socket needs drain. */
  writeChunk(chunk: Buffer): boolean;
  /** Write the terminating chunk and finish the response. */
  endBody(): void;
  /** Let the parser deliver body bytes again. */
  resume(): void;
  /** Cut the response mid-body (closes the connection). */
  abort(reason: string): void;
}

const OPEN = 0;
const PASSED = 1;
const ABORTED = 2;

export class TrickleBody {
  private state = OPEN;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private ended = false;
  private waitSock = false;
  private waitSink = false;
  private sinkDone = false;
  private readonly holdBack: number;

  constructor(
    private readonly host: TrickleHost,
    private readonly sink: Writable,
    holdBackBytes: number,
    decision: Promise<TrickleDecision>,
  ) {
    this.holdBack = Number.isFinite(holdBackBytes) && holdBackBytes > 0 ? Math.floor(holdBackBytes) : 0;
    // A failing sink is the handler's business (its decision reports it); never an unhandled error here.
    sink.on('error', () => {
      this.sinkDone = true;
      this.sinkDrained();
    });
    sink.on('drain', () => this.sinkDrained());
    decision.then(
      (d) => (d === 'pass' ? this.pass() : this.cut('decision: abort')),
      (err: unknown) => this.cut(`decision failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** A virgin body chunk. Returns false to pause the parser until resume(). */
  push(chunk: Buffer): boolean {
    if (this.state === ABORTED || chunk.length === 0) return this.state !== ABORTED;
    if (this.state === PASSED) {
      if (this.host.writeChunk(chunk)) return true;
      this.waitSock = true;
      return false;
    }
    if (!this.sinkDone && !this.sink.write(chunk)) this.waitSink = true;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    if (this.tailBytes > this.holdBack && !this.flushOver()) this.waitSock = true;
    return !this.waitSock && !this.waitSink;
  }

  /** The virgin body ended. */
  end(): void {
    this.ended = true;
    this.endSink();
    if (this.state === PASSED) this.finishBody();
  }

  /** The socket drained. */
  onSocketDrain(): void {
    if (!this.waitSock || this.state === ABORTED) return;
    this.waitSock = false;
    // Bytes over the hold-back that could not go out yet go now.
    if (this.state === OPEN && this.tailBytes > this.holdBack && !this.flushOver()) {
      this.waitSock = true;
      return;
    }
    this.maybeResume();
  }

  /** The connection died: the sink must not wait for an end that never comes. */
  dispose(): void {
    if (this.state !== ABORTED) this.state = ABORTED;
    this.tail = [];
    this.tailBytes = 0;
    if (!this.sinkDone) {
      this.sinkDone = true;
      this.sink.destroy(new Error('ICAP connection closed mid-body'));
    }
  }

  private pass(): void {
    if (this.state !== OPEN) return;
    this.state = PASSED;
    // Decided before the end: the sink has what it needed.
    if (!this.ended) this.endSink();
    this.waitSink = false;
    const t = this.tail;
    this.tail = [];
    this.tailBytes = 0;
    let ok = true;
    for (const c of t) ok = this.host.writeChunk(c) && ok;
    if (!ok) this.waitSock = true;
    if (this.ended) this.finishBody();
    else this.maybeResume();
  }

  private cut(reason: string): void {
    if (this.state !== OPEN) return;
    this.dispose();
    this.host.abort(reason);
  }

  private finishBody(): void {
    if (this.tail.length > 0) {
      for (const c of this.tail) this.host.writeChunk(c);
      this.tail = [];
      this.tailBytes = 0;
    }
    this.host.endBody();
  }

  /** Send the part of the tail beyond the hold-back (views, no copies). */
  private flushOver(): boolean {
    let ok = true;
    while (this.tailBytes > this.holdBack) {
      const first = this.tail[0] as Buffer;
      const over = this.tailBytes - this.holdBack;
      if (first.length <= over) {
        this.tail.shift();
        this.tailBytes -= first.length;
        ok = this.host.writeChunk(first) && ok;
      } else {
        this.tail[0] = first.subarray(over);
        this.tailBytes -= over;
        ok = this.host.writeChunk(first.subarray(0, over)) && ok;
      }
    }
    return ok;
  }

  private endSink(): void {
    if (this.sinkDone) return;
    this.sinkDone = true;
    this.sink.end();
  }

  private sinkDrained(): void {
    if (!this.waitSink) return;
    this.waitSink = false;
    this.maybeResume();
  }

  private maybeResume(): void {
    if (this.state !== ABORTED && !this.waitSock && !this.waitSink) this.host.resume();
  }
}
