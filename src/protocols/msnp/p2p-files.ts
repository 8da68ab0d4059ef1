// File data of an accepted MSNSLP file transfer, reassembled from the P2P
// MSGs that carry it over the switchboard (MSNP2P version 1):
//
//   OFFERED --(data chunk at offset 0)----------------> RECEIVING
//   RECEIVING --(chunk at the next offset)-----------> RECEIVING
//   RECEIVING --(next offset reaches TotalSize)------> ended, complete
//   RECEIVING --(gap, overlap, size change, over cap,
//                binary error, BYE / decline, FIN)---> ended, partial
//
// A data chunk is a P2P body whose SessionID is the INVITE's (non-zero),
// with a MessageLength > 0 and the data flag 0x20 set (libpurple p2p.h:
// P2P_MSN_OBJ_DATA 0x20, P2P_FILE_DATA 0x01000030; slplink.c hands any of
// these to the call's transfer); acks (0x02) carry no data. The bytes go to
// a FileDataSink (hash, AV, archive, one 'file' event); the MSGs themselves
// pass unchanged, so this only observes. The switchboard relays every byte,
// so nothing crosses uninspected; direct connections the clients may
// negotiate instead (transreqbody INVITEs) are separate tunnels, not decoded.
//
// MSNP2P version 2 (MSNP16+: a variable header with TLVs and a data-packet
// header carrying a TF/package number and a remaining-size instead of an
// offset) is not reassembled: no client that speaks it reaches a server
// today, the write-ups disagree on its data header, and no capture exists to
// check a decoder against. Its INVITEs are still decided (p2p-inspect.ts),
// so a policy that blocks MSN files blocks v2 offers too.
//
// Bounded: offers remembered and transfers tracked per session are capped
// (oldest offer evicted; a transfer past the cap is counted, not tracked),
// the declared size is checked against maxFileBytes before anything is
// hashed, and state is dropped on BYE, decline, completion, FIN and close.
//
// The chunk that completes TotalSize ends the file: when its sink is scanned
// (a VerdictSink), observe() returns it as an MsnFileEnd so the session can
// hold that chunk back until the verdict (verdict-hold.ts).
import type { FileInfo } from '../../events/types';
import { isVerdictSink } from '../files/sink';
import type { EventDraft, FileDataSink, Side, VerdictSink } from '../types';
import { P2P_HEADER_BYTES, parseP2pHeader, slpEndCallId, slpText } from './p2p';

export interface MsnFileLimits {
  /** Transfers reassembled at once per switchboard; more are passed untracked (counted). */
  maxTransfers: number;
  /** Accepted offers remembered per switchboard while their data has not started. */
  maxOffers: number;
  /** A declared TotalSize above this is not reassembled: recorded as partial, over_cap. */
  maxFileBytes: number;
}

export const MSN_FILE_LIMITS: MsnFileLimits = { maxTransfers: 4, maxOffers: 16, maxFileBytes: 2 ** 40 };

/** P2P flag bits (libpurple msn/p2p.h). */
const FLAG_DATA = 0x20;
const FLAG_BINARY_ERROR = 0x08;
/** A BYE or decline is a few hundred bytes; longer SLP bodies (INVITEs) are not looked at here. */
const MAX_SLP_END = 2048;

type Detail = Record<string, string | number | boolean>;

/** What an allowed INVITE told about the file, kept until its data starts. */
export interface MsnFileOffer {
  /** Who sends the file (the INVITE's side). */
  side: Side;
  sessionId: number;
  callId: string;
  file: FileInfo;
  /** Account and peer for the event (the session's view when the INVITE was decided). */
  base: Omit<EventDraft, 'kind' | 'side' | 'file'>;
  /** SLP addresses of the INVITE: the file's sender (From) and receiver (To), for a BYE. */
  from?: string;
  to?: string;
}

/** A scanned file whose last chunk just passed observe(): hold it until `sink.verdict`. */
export interface MsnFileEnd {
  readonly offer: MsnFileOffer;
  readonly sink: VerdictSink;
}

interface Transfer {
  readonly offer: MsnFileOffer;
  readonly sink: FileDataSink;
  readonly total: number;
  next: number;
}

/** SessionID header values are decimal u32; 0 is the SLP channel. */
export function parseSessionId(v: string): number | null {
  if (!/^\d{1,10}$/.test(v)) return null;
  const n = Number(v);
  return n > 0 && n <= 0xffffffff ? n : null;
}

export class P2pFiles {
  private readonly offers = new Map<number, MsnFileOffer>();
  private readonly transfers = new Map<number, Transfer>();
  /** Transfers not reassembled because maxTransfers were already running. */
  untracked = 0;

  constructor(
    private readonly open: (draft: EventDraft) => FileDataSink,
    private readonly limits: MsnFileLimits = MSN_FILE_LIMITS,
  ) {}

  /** Offers and transfers held (for tests and the bounded-state check). */
  get size(): number {
    return this.offers.size + this.transfers.size;
  }

  /** An INVITE the policy allowed: its data, if the peer accepts, will be reassembled. */
  offer(o: MsnFileOffer): void {
    // A re-INVITE of a live session id starts over.
    this.finish(o.sessionId, false, { reassembly: 'reinvite' });
    this.offers.delete(o.sessionId);
    this.offers.set(o.sessionId, o);
    if (this.offers.size > this.limits.maxOffers) this.offers.delete(this.offers.keys().next().value as number);
  }

  /** An SLP BYE or decline for `callId`: the call is over, finished or not. */
  endCall(callId: string): void {
    for (const [id, o] of this.offers) {
      if (o.callId === callId) this.offers.delete(id);
    }
    for (const [id, t] of this.transfers) {
      if (t.offer.callId === callId) this.finish(id, false, { reassembly: 'bye' });
    }
  }

  /**
   * A P2P MSG body from `side` (any: SLP, data, ack). Never throws on
   * malformed input. Returns the file this body completed, when its sink is
   * scanned (the caller may hold the body's MSG until the verdict).
   */
  observe(side: Side, body: Buffer): MsnFileEnd | null {
    if (this.offers.size === 0 && this.transfers.size === 0) return null;
    const h = parseP2pHeader(body);
    if (h === null) return null;
    if (h.sessionId === 0) {
      // BYE and declines are short: only whole, single-chunk SLP messages are read.
      if (h.offset !== 0 || h.length !== h.totalSize || h.length > MAX_SLP_END) return null;
      const callId = slpEndCallId(slpText(body, h));
      if (callId !== null) this.endCall(callId);
      return null;
    }
    const t = this.transfers.get(h.sessionId);
    if ((h.flags & FLAG_BINARY_ERROR) !== 0) {
      if (t !== undefined) this.finish(h.sessionId, false, { reassembly: 'binary_error' });
      return null;
    }
    if (h.length === 0 || (h.flags & FLAG_DATA) === 0) return null;
    if (t === undefined) return this.start(side, h.sessionId, h.offset, h.totalSize, body, h.length);
    if (side !== t.offer.side) return null;
    if (h.totalSize !== t.total) return this.finish(h.sessionId, false, { reassembly: 'size_changed' });
    if (h.offset !== t.next) return this.finish(h.sessionId, false, { reassembly: h.offset > t.next ? 'gap' : 'overlap', at: t.next });
    return this.feed(h.sessionId, t, body, h.length);
  }

  /** `side` ended (null: the session closed): its transfers end where they are, offers are dropped. */
  endSide(side: Side | null): void {
    for (const [id, t] of this.transfers) {
      if (side === null || t.offer.side === side) this.finish(id, false, { reassembly: 'closed' });
    }
    for (const [id, o] of this.offers) {
      if (side === null || o.side === side) this.offers.delete(id);
    }
  }

  private start(side: Side, sessionId: number, offset: number, total: number, body: Buffer, length: number): MsnFileEnd | null {
    const o = this.offers.get(sessionId);
    if (o === undefined || o.side !== side) return null;
    this.offers.delete(sessionId);
    if (this.transfers.size >= this.limits.maxTransfers) {
      this.untracked++;
      return null;
    }
    const draft: EventDraft = { ...o.base, kind: 'file', side, file: { ...o.file }, detail: { ...o.base.detail, via: 'switchboard', sessionId } };
    const t: Transfer = { offer: o, sink: this.open(draft), total, next: 0 };
    this.transfers.set(sessionId, t);
    if (total > this.limits.maxFileBytes) return this.finish(sessionId, false, { over_cap: this.limits.maxFileBytes });
    // Data that does not start at 0 missed its head: nothing to hash that means anything.
    if (offset !== 0) return this.finish(sessionId, false, { reassembly: 'gap', at: 0 });
    return this.feed(sessionId, t, body, length);
  }

  private feed(sessionId: number, t: Transfer, body: Buffer, length: number): MsnFileEnd | null {
    // The sink may keep what it gets; the MSG is a view of the socket's chunk.
    t.sink.write(Buffer.from(body.subarray(P2P_HEADER_BYTES, P2P_HEADER_BYTES + length)));
    t.next += length;
    if (t.next < t.total) return null;
    this.finish(sessionId, true, {});
    // Only a whole file is held: a partial one already reached its receiver as far as it got.
    return isVerdictSink(t.sink) && t.sink.scanning ? { offer: t.offer, sink: t.sink } : null;
  }

  private finish(sessionId: number, ended: boolean, detail: Detail): null {
    const t = this.transfers.get(sessionId);
    if (t === undefined) return null;
    this.transfers.delete(sessionId);
    t.sink.end(ended, detail);
    return null;
  }
}
