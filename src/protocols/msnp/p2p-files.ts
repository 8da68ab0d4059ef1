// File data of an accepted MSNSLP file transfer, reassembled from the P2P
// MSGs that carry it over the switchboard (MSNP2P version 1 or 2):
//
//   OFFERED --(first data packet of the session)-----> RECEIVING
//   RECEIVING --(packet at the next offset)----------> RECEIVING
//   RECEIVING --(next offset reaches the size)-------> ended, complete
//   RECEIVING --(gap, overlap, size change, over cap,
//                binary error, BYE / decline, FIN)---> ended, partial
//
// Version 1 (48-byte header): a data chunk is a P2P body whose SessionID is
// the INVITE's (non-zero), with a MessageLength > 0 and the data flag 0x20
// set (libpurple p2p.h: P2P_MSN_OBJ_DATA 0x20, P2P_FILE_DATA 0x01000030;
// slplink.c hands any of these to the call's transfer); acks (0x02) carry
// no data. Its offset and TotalSize are in every chunk.
//
// Version 2 (MSNP16+, p2p.ts parseP2pV2 from libpurple 2.10 p2p.c
// msn_p2p_header_from_wire): a data packet (message_len > 0,
// msn_p2p_msg_is_data) whose data header carries the INVITE's session id.
// There is no offset: the first packet must have TF_FIRST
// (msn_p2p_info_is_first) and gives the size as its payload plus its
// remaining-size TLV; each later packet's offset is size - remaining -
// payload, and the last one has no remaining TLV (msn_p2p_info_is_final).
// ASSUMED (see p2p.ts): the TLV is u64 big-endian and counts the bytes
// after this payload; the package number is not checked (libpurple never
// reads it; MSNPSharp keeps one per message, which nothing here relies on). A first packet
// whose size differs from the INVITE's Context size ends it partial.
// No offer says which version it is (the session passes none), so the first
// data packet decides: a version 1 parse that names the session wins, then
// version 2. A v2 header cannot read as a v1 SLP message (its first byte,
// header_len, is >= 8, so a v1 session id of 0 is impossible).
//
// The bytes go to a FileDataSink (hash, AV, archive, one 'file' event); the
// MSGs themselves pass unchanged, so this only observes. The switchboard
// relays every byte, so nothing crosses uninspected; direct connections the
// clients may negotiate instead (transreqbody INVITEs) are separate
// tunnels, not decoded.
//
// Bounded: offers remembered and transfers tracked per session are capped
// (oldest offer evicted; a transfer past the cap is counted, not tracked),
// the declared size is checked against maxFileBytes before anything is
// hashed, and state is dropped on BYE, decline, completion, FIN and close.
//
// The chunk that completes the size ends the file: when its sink is scanned
// (a VerdictSink), observe() returns it as an MsnFileEnd so the session can
// hold that chunk back until the verdict (verdict-hold.ts), whatever the
// version.
import type { FileInfo } from '../../events/types';
import { isVerdictSink } from '../files/sink';
import type { EventDraft, FileDataSink, Side, VerdictSink } from '../types';
import { P2P_HEADER_BYTES, parseP2pHeader, slpEndCallId, slpText, type P2pHeader } from './p2p';
import { parseP2pV2, TF_FIRST, type P2pV2Header } from './p2p-v2';

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
  /** MSNP2P version of the data: a BYE sent for a refused file should speak it (p2p.ts buildBye / buildByeV2). */
  readonly version?: 1 | 2;
}

interface Transfer {
  readonly offer: MsnFileOffer;
  readonly sink: FileDataSink;
  readonly total: number;
  readonly version: 1 | 2;
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
    if (h !== null) {
      if (h.sessionId === 0) return this.slpV1(body, h);
      const t = this.transfers.get(h.sessionId);
      if (t !== undefined ? t.version === 1 : this.offers.has(h.sessionId)) return this.observeV1(side, h, t, body);
    }
    const v = parseP2pV2(body);
    return v === null ? null : this.observeV2(side, v, body);
  }

  private slpV1(body: Buffer, h: P2pHeader): null {
    // BYE and declines are short: only whole, single-chunk SLP messages are read.
    if (h.offset !== 0 || h.length !== h.totalSize || h.length > MAX_SLP_END) return null;
    const callId = slpEndCallId(slpText(body, h));
    if (callId !== null) this.endCall(callId);
    return null;
  }

  private observeV1(side: Side, h: P2pHeader, t: Transfer | undefined, body: Buffer): MsnFileEnd | null {
    if ((h.flags & FLAG_BINARY_ERROR) !== 0) {
      if (t !== undefined) this.finish(h.sessionId, false, { reassembly: 'binary_error' });
      return null;
    }
    if (h.length === 0 || (h.flags & FLAG_DATA) === 0) return null;
    if (t === undefined) return this.start(side, h.sessionId, 1, h.offset, h.totalSize, undefined, body, P2P_HEADER_BYTES, h.length);
    if (side !== t.offer.side) return null;
    if (h.totalSize !== t.total) return this.finish(h.sessionId, false, { reassembly: 'size_changed' });
    if (h.offset !== t.next) return this.finish(h.sessionId, false, { reassembly: h.offset > t.next ? 'gap' : 'overlap', at: t.next });
    return this.feed(h.sessionId, t, body, P2P_HEADER_BYTES, h.length);
  }

  private observeV2(side: Side, v: P2pV2Header, body: Buffer): MsnFileEnd | null {
    // Control packets (bare ACK / NAK / SYN) carry no data.
    if (v.messageLen === 0 || v.payloadLength === 0) return null;
    if (v.sessionId === 0) {
      if ((v.tf & TF_FIRST) === 0 || v.remaining !== 0 || v.payloadLength > MAX_SLP_END) return null;
      const callId = slpEndCallId(body.toString('utf8', v.payloadStart, v.payloadStart + v.payloadLength));
      if (callId !== null) this.endCall(callId);
      return null;
    }
    const t = this.transfers.get(v.sessionId);
    if (t === undefined) {
      if (!this.offers.has(v.sessionId)) return null;
      // Without TF_FIRST the head was missed: offset -1 ends it as a gap at 0.
      const offset = (v.tf & TF_FIRST) !== 0 ? 0 : -1;
      return this.start(side, v.sessionId, 2, offset, v.payloadLength + v.remaining, v, body, v.payloadStart, v.payloadLength);
    }
    if (t.version !== 2 || side !== t.offer.side) return null;
    const offset = t.total - v.remaining - v.payloadLength;
    if (offset !== t.next) return this.finish(v.sessionId, false, { reassembly: offset > t.next ? 'gap' : 'overlap', at: t.next });
    return this.feed(v.sessionId, t, body, v.payloadStart, v.payloadLength);
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

  private start(side: Side, sessionId: number, version: 1 | 2, offset: number, total: number, v2: P2pV2Header | undefined, body: Buffer, at: number, length: number): MsnFileEnd | null {
    const o = this.offers.get(sessionId);
    if (o === undefined || o.side !== side) return null;
    this.offers.delete(sessionId);
    if (this.transfers.size >= this.limits.maxTransfers) {
      this.untracked++;
      return null;
    }
    const draft: EventDraft = { ...o.base, kind: 'file', side, file: { ...o.file }, detail: { ...o.base.detail, via: 'switchboard', sessionId, p2p: version } };
    const t: Transfer = { offer: o, sink: this.open(draft), total, version, next: 0 };
    this.transfers.set(sessionId, t);
    if (total > this.limits.maxFileBytes) return this.finish(sessionId, false, { over_cap: this.limits.maxFileBytes });
    // Data that does not start at 0 missed its head: nothing to hash that means anything.
    if (offset !== 0) return this.finish(sessionId, false, { reassembly: 'gap', at: 0 });
    // v2 packets carry no size of their own: the first one's must be the one the INVITE announced.
    if (v2 !== undefined && o.file.size !== undefined && total !== o.file.size) return this.finish(sessionId, false, { reassembly: 'size_changed', announced: o.file.size, seen: total });
    return this.feed(sessionId, t, body, at, length);
  }

  private feed(sessionId: number, t: Transfer, body: Buffer, at: number, length: number): MsnFileEnd | null {
    // The sink may keep what it gets; the MSG is a view of the socket's chunk.
    t.sink.write(Buffer.from(body.subarray(at, at + length)));
    t.next += length;
    if (t.next < t.total) return null;
    this.finish(sessionId, true, {});
    // Only a whole file is held: a partial one already reached its receiver as far as it got.
    return isVerdictSink(t.sink) && t.sink.scanning ? { offer: t.offer, sink: t.sink, version: t.version } : null;
  }

  private finish(sessionId: number, ended: boolean, detail: Detail): null {
    const t = this.transfers.get(sessionId);
    if (t === undefined) return null;
    this.transfers.delete(sessionId);
    t.sink.end(ended, detail);
    return null;
  }
}
