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
import type { SessionContext, SessionOutput, Side } from '../types';
import { otherSide } from '../types';
import { FramedSession, passes, type UnitResult } from '../framing/framed-session';
import { FLAP_FORMAT } from './flap';
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
  type Rendezvous,
} from './icbm';
import { loginFromBucp, loginFromChannel1, selfInfoName } from './login';
import { expectDial, fileFlow } from './rendezvous-dial';
import { lookupOffer, recordOffer } from './rendezvous-table';
import { buildFlap, flapChannel, flapSeq, parseSnac, type Snac } from './snac';

export const OSCAR = 'oscar';
const FLAP_CHANNEL_SNAC = 2;

export class OscarSession extends FramedSession {
  private resyncs = 0;
  private readonly seqOffset: Record<Side, number> = { c2s: 0, s2c: 0 };
  private readonly lastSeq: Record<Side, number | undefined> = { c2s: undefined, s2c: undefined };

  constructor(ctx: SessionContext, out: SessionOutput) {
    super(ctx, out, FLAP_FORMAT, 'OSCAR');
  }

  protected unit(side: Side, frame: Buffer): UnitResult {
    return this.renumber(side, frame, this.inspect(side, frame));
  }

  protected labels(): { protocol: string; app?: string } {
    return this.account === undefined ? { protocol: OSCAR } : { protocol: OSCAR, app: /^\d+$/.test(this.account) ? 'icq' : 'aim' };
  }

  protected override resync(side: Side, skipped: number): void {
    // Garbage can contain many false starts: log the first few only.
    if (++this.resyncs <= 3) {
      this.ctx.log.warn({ conn: this.ctx.conn, protocol: OSCAR, side, skipped, resyncs: this.resyncs }, 'OSCAR: skipped non-FLAP bytes, resynchronised');
    }
  }

  /** Applies the side's sequence offset to what leaves for the other end. */
  private renumber(side: Side, frame: Buffer, result: UnitResult): UnitResult {
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

  private inspect(side: Side, frame: Buffer): UnitResult {
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

  private icbm(side: Side, frame: Buffer, snac: Snac): UnitResult {
    const m = parseIcbm(frame, snac, side === 's2c');
    if (!m) return undefined;
    if (m.channel === 1) return this.message(side, frame, snac, m);
    const rv = m.rendezvous;
    if (m.channel !== 2 || !rv || rv.type !== RV_PROPOSE || !rv.isFileTransfer) return undefined;
    const cookie = rv.cookie.toString('hex');
    const known = rv.requestNumber > 1 ? lookupOffer(cookie) : undefined;
    if (known !== undefined) {
      // A further proposal (reverse, proxy) for a transfer already decided:
      // no new event; the client may now dial another address for it.
      if (side === 's2c') expectDial(rv, known);
      return passes(known.verdict) ? undefined : this.refuse(side, m.peer, rv);
    }
    const file: { name?: string; size?: number } = {};
    if (rv.fileName !== undefined) file.name = rv.fileName;
    if (rv.fileSize !== undefined) file.size = rv.fileSize;
    const detail: Record<string, number | boolean> = { channel: 2 };
    if (rv.proxy) detail['proxy'] = true;
    if (rv.fileCount !== undefined) detail['fileCount'] = rv.fileCount;
    if (rv.requestNumber !== 1) detail['requestNumber'] = rv.requestNumber;
    const draft = this.draft(side, { kind: 'file', peer: m.peer, file, detail });
    const v = this.ctx.decide(draft);
    // Remembered by cookie (later proposals for it) and, when the local
    // client will dial, by address: a blocked offer too, so its data
    // connection stays blocked. The draft's side is the file's direction.
    const flow = fileFlow(side, rv.requestNumber);
    const offer = { draft: flow === draft.side ? draft : { ...draft, side: flow }, verdict: v, conn: this.ctx.conn, cookie };
    recordOffer(offer);
    if (side === 's2c') expectDial(rv, offer);
    return passes(v) ? undefined : this.refuse(side, m.peer, rv);
  }

  /** Refuses a proposal the way a receiving client does: a rendezvous cancel (type 1) with its cookie, to whoever made it. */
  private refuse(side: Side, peer: string, rv: Rendezvous): null {
    if (side === 'c2s') this.injectSnac('s2c', buildCancelToClient(peer, rv));
    else this.injectSnac('c2s', buildCancelToHost(0, peer, rv));
    return null;
  }

  private message(side: Side, frame: Buffer, snac: Snac, m: Icbm): UnitResult {
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
