// Holding a scanned MSN file's last chunk until its AV verdict, for one
// direction of a switchboard (after the XMPP IBB hold, src/protocols/xmpp/
// ibb.ts, and the ICAP trickle):
//
//   IDLE --(forward of an armed unit: the P2P data MSG that
//           completes a scanned file's TotalSize)---------> WAITING(file)
//   WAITING --(any later bytes of this direction)---------> WAITING, queued
//   WAITING --(verdict pass | timeout and failOpen)-------> held MSG out, queue out in order
//   WAITING --(verdict block | timeout, fail-closed |
//              queue over its limits)----------------------> held MSG dropped (host.drop: BYE
//                                                           to both ends), queue out in order
//   WAITING --(FIN of this direction)---------------------> held MSG dropped, queue out
//   any --(session closed)--------------------------------> nothing out, timer cleared
// A queued unit that completes another scanned file becomes the next WAITING
// head when the queue reaches it: it is never released unscanned.
//
// Why this cannot deadlock. Only the MSG whose data completes TotalSize is
// held, never an earlier chunk: libpurple's sender (slplink.c msg_ack) sends
// each next part only after the switchboard ACKed the previous MSG, so
// holding an earlier chunk would stall the very bytes the verdict waits for.
// The last chunk is different: once it was seen the sink has the whole file
// and the verdict needs nothing more from anyone. The receiver acks a P2P
// message only when all its TotalSize bytes arrived, so it sends nothing
// that we wait for; the sender may wait for the switchboard's ACK of the
// held MSG (c2s) or for the receiver's P2P ack (both ways), and either comes
// once the verdict releases the MSG, or is replaced by a BYE that ends the
// call. The other direction is never held. And the wait itself is bounded:
// verdictWait() (the scanner's timeout; silence means its failOpen choice),
// a queue byte/unit limit, FIN and close all end it.
//
// The sink may turn holding off: the gateway's FileTransfer states
// holdBackBytes (inspect.file_hold_back_bytes) and 0 means stream and record
// only, so such a unit is never armed. Only the completing MSG is ever held,
// so any other value just means "hold".
//
// Bytes queued behind the held MSG are copied (a forwarded run may be a view
// of a large socket read) and released byte-identical, in order.
import type { VerdictSink } from '../types';
import type { HeldUnit } from './p2p-hold';
import type { MsnFileEnd } from './p2p-files';

export interface VerdictHoldLimits {
  /** Bytes that may queue behind a held MSG; past it the held file is refused. */
  maxQueuedBytes: number;
  /** Units (forwarded pieces) that may queue behind a held MSG. */
  maxQueuedUnits: number;
}

/** A real sender stops after its last chunk until it is acked: a few typing notifications fit easily. */
export const VERDICT_HOLD_LIMITS: VerdictHoldLimits = { maxQueuedBytes: 256 * 1024, maxQueuedUnits: 256 };

/** A unit whose forward starts (or continues) a hold: the MSG completing a scanned file. */
export type EndUnit = HeldUnit & { end: MsnFileEnd };

export interface VerdictHoldHost {
  /** Bytes on towards the other end, in order (the session's output). */
  forward(data: Buffer): void;
  /** The file is refused: `unit` is not sent; tell both ends (BYE, transaction answer). */
  drop(unit: EndUnit, why: string, rule: string): void;
}

/** False when the sink says it holds nothing (inspect.file_hold_back_bytes 0). */
function holdsBack(sink: VerdictSink): boolean {
  return sink.holdBackBytes === undefined || sink.holdBackBytes > 0;
}

interface Item {
  data: Buffer;
  unit?: EndUnit;
}

export class VerdictHold {
  /** Null when IDLE; else the head (always an end unit) and what queued behind it. */
  private items: Item[] | null = null;
  private queuedBytes = 0;
  private armed: EndUnit[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Bumped per wait, so a late verdict of an earlier head (or after close) is ignored. */
  private generation = 0;
  private closed = false;

  constructor(
    private readonly host: VerdictHoldHost,
    private readonly limits: VerdictHoldLimits = VERDICT_HOLD_LIMITS,
  ) {}

  get active(): boolean {
    return this.items !== null;
  }

  /** Bytes held back (the head and the queue). */
  get bytes(): number {
    return this.items === null ? 0 : this.queuedBytes + (this.items[0] as Item).data.length;
  }

  /**
   * `unit.data` is about to be forwarded (as the framer outcome's replace)
   * and completes a scanned file: when it reaches forward(), it is held.
   * Identity, not content, marks it: the caller passes that very buffer.
   */
  arm(unit: EndUnit): void {
    if (this.closed || !holdsBack(unit.end.sink)) return;
    this.armed.push(unit);
  }

  /** Forget armed units that were never forwarded (a closing outcome); called per pushed chunk. */
  disarm(): void {
    if (this.armed.length > 0) this.armed = [];
  }

  /** Every byte the session forwards in this direction goes through here. */
  forward(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    const unit = this.armed.length > 0 ? this.takeArmed(data) : undefined;
    if (this.items === null) {
      if (unit === undefined) this.host.forward(data);
      else this.wait(unit);
      return;
    }
    // Behind the held MSG: a copy, so a view does not pin a large socket read.
    this.items.push(unit === undefined ? { data: Buffer.from(data) } : { data: unit.data, unit });
    this.queuedBytes += data.length;
    if (this.queuedBytes > this.limits.maxQueuedBytes || this.items.length - 1 > this.limits.maxQueuedUnits) {
      this.settle(this.generation, { pass: false, why: 'too much queued behind a held file chunk', rule: 'msnp:hold-limit' });
    }
  }

  /** FIN of this direction: no verdict can be waited for any more; the held file is refused, the rest goes out. */
  finish(): void {
    while (this.items !== null) this.settle(this.generation, { pass: false, why: 'stream ended before the AV verdict', rule: 'msnp:fin-before-verdict' });
  }

  /** The session closed (or the tunnel went: dispose): nothing more is sent, no timer is left behind. */
  close(): void {
    this.closed = true;
    this.generation++;
    this.clearTimer();
    this.items = null;
    this.queuedBytes = 0;
    this.armed = [];
  }

  private takeArmed(data: Buffer): EndUnit | undefined {
    const i = this.armed.findIndex((u) => u.data === data);
    if (i < 0) return undefined;
    const [u] = this.armed.splice(i, 1);
    return u;
  }

  /** `unit` heads the hold: wait for its file's verdict, bounded by the sink's verdictWait(). */
  private wait(unit: EndUnit, rest: Item[] = []): void {
    this.items = [{ data: unit.data, unit }, ...rest];
    this.queuedBytes = rest.reduce((n, it) => n + it.data.length, 0);
    const gen = ++this.generation;
    const sink: VerdictSink = unit.end.sink;
    const w = sink.verdictWait();
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.settle(gen, w.failOpen ? { pass: true } : { pass: false, why: `no AV verdict within ${w.ms} ms`, rule: 'av:timeout' });
    }, w.ms);
    this.timer.unref();
    void sink.verdict.then(
      (v) => this.settle(gen, v.pass ? v : { pass: false, why: v.why, rule: v.rule }),
      (err: unknown) => this.settle(gen, w.failOpen ? { pass: true } : { pass: false, why: `AV verdict failed: ${String(err)}`, rule: 'av:error' }),
    );
  }

  /** The head's file was decided: send or drop it, then release the queue up to the next end unit. */
  private settle(gen: number, v: { pass: true } | { pass: false; why: string; rule: string }): void {
    if (gen !== this.generation || this.items === null || this.closed) return;
    this.clearTimer();
    this.generation++;
    const items = this.items;
    this.items = null;
    this.queuedBytes = 0;
    const head = items[0] as Item & { unit: EndUnit };
    if (v.pass) this.host.forward(head.data);
    else this.host.drop(head.unit, v.why, v.rule);
    let i = 1;
    while (i < items.length) {
      const it = items[i] as Item;
      if (it.unit !== undefined) {
        // Another scanned file ends here: it waits for its own verdict.
        this.wait(it.unit, items.slice(i + 1));
        return;
      }
      // Consecutive plain pieces leave in one write.
      let j = i + 1;
      while (j < items.length && (items[j] as Item).unit === undefined) j++;
      this.host.forward(j - i === 1 ? it.data : Buffer.concat(items.slice(i, j).map((x) => x.data)));
      if (this.closed) return;
      i = j;
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
