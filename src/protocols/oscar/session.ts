// One OSCAR connection: a FLAP framer per direction, the IM events found in
// its SNACs, and the verdicts applied on the wire.
//
// Sequence numbers: each FLAP carries a 16-bit per-direction sequence
// number that the receiver may check (wiki.nina.chat Protocols/OSCAR/FLAP;
// AOL servers disconnected clients whose numbers jumped). Removing a frame
// from a direction therefore shifts every later number of that direction
// down by one, and inserting a frame shifts them up: `seqOffset[side]` is
// what to add to the original numbers of frames coming from `side`, and
// `lastSeq[side]` is the last number actually written on that stream, from
// which an injected frame takes the next one.
import type { EventDraft, DissectorSession, SessionContext, SessionOutput, Side } from '../types';
import { otherSide } from '../types';
import type { Verdict } from '../../events/types';
import { FlapFramer } from './flap';
import {
  ICBM_FAMILY,
  ICBM_TO_CLIENT,
  ICBM_TO_HOST,
  RV_PROPOSE,
  buildCancelToClient,
  buildCancelToHost,
  buildIcbmError,
  messageText,
  parseIcbm,
  rewriteTexts,
  type Icbm,
} from './icbm';
import { loginFromBucp, loginFromChannel1, selfInfoName } from './login';
import { buildFlap, flapChannel, flapSeq, parseSnac, type Snac } from './snac';

export const OSCAR = 'oscar';
const FLAP_CHANNEL_SNAC = 2;

const passes = (v: Verdict): boolean => v.action === 'allow' || v.action === 'log';

export class OscarSession implements DissectorSession {
  readonly passthrough = false;
  private closed = false;
  private account: string | undefined;
  private resyncs = 0;
  private readonly framers: Record<Side, FlapFramer>;
  private readonly seqOffset: Record<Side, number> = { c2s: 0, s2c: 0 };
  private readonly lastSeq: Record<Side, number | undefined> = { c2s: undefined, s2c: undefined };

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
  ) {
    this.framers = { c2s: this.framer('c2s'), s2c: this.framer('s2c') };
  }

  push(from: Side, chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.framers[from].push(chunk);
    } catch (err) {
      // Parsing is bounds-checked throughout; this is the last line so that
      // a bug cannot take the relay down with it.
      this.close(`OSCAR dissector error: ${(err as Error).message}`);
    }
  }

  end(from: Side): void {
    if (!this.closed) this.framers[from].end();
  }

  /** Bytes held back across both directions (memory-bound checks). */
  get heldBytes(): number {
    return this.framers.c2s.heldBytes + this.framers.s2c.heldBytes;
  }

  private framer(side: Side): FlapFramer {
    return new FlapFramer(this.ctx.options.maxUnitBytes, {
      frame: (frame) => (this.closed ? null : this.renumber(side, frame, this.inspect(side, frame))),
      forward: (data) => {
        if (!this.closed) this.out.forward(side, data);
      },
      fail: (reason) => this.close(reason),
      resync: (skipped) => {
        // Garbage can contain many false starts: log the first few only.
        if (++this.resyncs <= 3) {
          this.ctx.log.warn({ conn: this.ctx.conn, protocol: OSCAR, side, skipped, resyncs: this.resyncs }, 'OSCAR: skipped non-FLAP bytes, resynchronised');
        }
      },
    });
  }

  /** Applies the side's sequence offset to what leaves for the other end. */
  private renumber(side: Side, frame: Buffer, result: Buffer | null | undefined): Buffer | null | undefined {
    if (this.closed) return null;
    if (result === null) {
      this.seqOffset[side] -= 1;
      return null;
    }
    const offset = this.seqOffset[side];
    const src = result ?? frame;
    const seq = (flapSeq(src) + offset) & 0xffff;
    this.lastSeq[side] = seq;
    if (offset === 0) return result;
    // The frame may be a view of the caller's chunk: write into a copy.
    const copy = result ?? Buffer.from(frame);
    copy.writeUInt16BE(seq, 2);
    return copy;
  }

  /** A SNAC frame written by the gateway into the stream that carries `streamSide`'s frames. */
  private injectSnac(streamSide: Side, snac: Buffer): void {
    const seq = ((this.lastSeq[streamSide] ?? 0) + 1) & 0xffff;
    this.lastSeq[streamSide] = seq;
    this.seqOffset[streamSide] += 1;
    this.out.inject(otherSide(streamSide), buildFlap(FLAP_CHANNEL_SNAC, seq, snac));
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close(reason);
  }

  private inspect(side: Side, frame: Buffer): Buffer | null | undefined {
    const channel = flapChannel(frame);
    if (channel === 1) {
      return side === 'c2s' ? this.login(loginFromChannel1(frame), 'flap-channel-1') : undefined;
    }
    if (channel !== FLAP_CHANNEL_SNAC) return undefined;
    const snac = parseSnac(frame);
    if (!snac) return undefined;
    if (side === 'c2s') {
      if (snac.family === ICBM_FAMILY && snac.subtype === ICBM_TO_HOST) return this.icbm(side, frame, snac);
      const name = loginFromBucp(frame, snac);
      return name === undefined ? undefined : this.login(name, `snac-17-${snac.subtype.toString(16).padStart(2, '0')}`);
    }
    if (snac.family === ICBM_FAMILY && snac.subtype === ICBM_TO_CLIENT) return this.icbm(side, frame, snac);
    const self = selfInfoName(frame, snac);
    return self === undefined ? undefined : this.login(self, 'snac-01-0f');
  }

  private draft(side: Side, d: Omit<EventDraft, 'side' | 'protocol' | 'app' | 'account'>): EventDraft {
    const ev: EventDraft = { ...d, side, protocol: OSCAR };
    if (this.account !== undefined) {
      ev.account = this.account;
      ev.app = /^\d+$/.test(this.account) ? 'icq' : 'aim';
    }
    return ev;
  }

  private login(name: string | undefined, source: string): null | undefined {
    if (name === undefined || name === this.account) return undefined;
    this.account = name;
    const v = this.ctx.decide(this.draft('c2s', { kind: 'login', detail: { source } }));
    if (passes(v)) return undefined;
    this.close(`OSCAR login of ${name} refused by rule ${v.rule}`);
    return null;
  }

  private icbm(side: Side, frame: Buffer, snac: Snac): Buffer | null | undefined {
    const m = parseIcbm(frame, snac, side === 's2c');
    if (!m) return undefined;
    if (m.channel === 1) return this.message(side, frame, snac, m);
    const rv = m.rendezvous;
    if (m.channel !== 2 || !rv || rv.type !== RV_PROPOSE || !rv.isFileTransfer) return undefined;
    const file: { name?: string; size?: number } = {};
    if (rv.fileName !== undefined) file.name = rv.fileName;
    if (rv.fileSize !== undefined) file.size = rv.fileSize;
    const detail: Record<string, number> = { channel: 2 };
    if (rv.fileCount !== undefined) detail['fileCount'] = rv.fileCount;
    const v = this.ctx.decide(this.draft(side, { kind: 'file', peer: m.peer, file, detail }));
    if (passes(v)) return undefined;
    // Refuse the offer the way a receiving client does: a rendezvous cancel
    // (type 1) with the offer's cookie, sent to whoever made the offer.
    if (side === 'c2s') this.injectSnac('s2c', buildCancelToClient(m.peer, rv));
    else this.injectSnac('c2s', buildCancelToHost(0, m.peer, rv));
    return null;
  }

  private message(side: Side, frame: Buffer, snac: Snac, m: Icbm): Buffer | null | undefined {
    const text = messageText(m);
    if (text === undefined) return undefined;
    const v = this.ctx.decide(this.draft(side, { kind: 'message', peer: m.peer, text, detail: { channel: 1 } }));
    if (passes(v)) return undefined;
    if (v.action === 'redact') {
      const rewritten = rewriteTexts(frame, m, (t) => this.ctx.redact(t, v));
      if (rewritten) return rewritten;
    }
    // Blocked (or unredactable): the sender learns it from an ICBM error
    // carrying its own request id; an inbound message just never arrives.
    if (side === 'c2s') this.injectSnac('s2c', buildIcbmError(snac.requestId));
    return null;
  }
}
