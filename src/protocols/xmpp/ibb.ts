// In-band bytestreams (XEP-0047) as they pass: each <data/> payload of an
// allowed session is base64-decoded incrementally per (sid, direction) and
// handed to a FileDataSink (hash, size, AV, archive); <close/> or the end of
// the stream finishes the transfer. The file's name and size come from the
// offer that announced the sid: SI file transfer (XEP-0095/0096, si id = IBB
// sid) or a Jingle IBB transport (XEP-0261 sid). A sid whose offer the
// policy blocked is remembered so its data stanzas are refused too.
// Everything is bounded: transfers, remembered offers and blocked sids.
//
// Holding the tail until the AV verdict (when the sink is scanned: a
// VerdictSink). XEP-0047 paces data two ways: <iq/> data is acknowledged
// by the receiver's iq result, and a sender may wait for each result before
// sending the next chunk (and sends <close/> only after the last one was
// acknowledged); <message/> data has no acknowledgements at all. So a held
// stanza can only stall the sender, never the decision, if nothing more
// from the sender is needed to decide:
//  - the offer declared the size (SI, Jingle): the stanza whose data
//    completes that size ends the file. It is held (with anything that
//    follows for the sid from that side: <close/>, stray data), the file is
//    decided, and a clean verdict releases it; the receiver acks and a
//    waiting sender goes on to its <close/>. Nothing earlier is held, so a
//    sender that waits for every ack cannot deadlock on us;
//  - message-stanza data (no acks to wait for): the stanzas carrying the
//    last holdBackBytes are held, <close/> ends the file;
//  - iq data of undeclared size: its end is only known from <close/>, which
//    an ack-waiting sender sends only after its last chunk was acknowledged:
//    holding any chunk could deadlock, so nothing is held (the verdict is
//    recorded as the file passed).
// Nothing is ever answered on the receiver's behalf. An infected (or
// fail-closed) file's held stanzas are dropped as blocked (the sender gets
// an error, XEP-0198 counts stay valid: the session's block()) and the
// receiver an IBB <close/> for the sid. The wait is bounded by the
// scanner's timeout; what silence means is the scanner's fail choice.
// The sink says how much may be held (the gateway's FileTransfer carries
// inspect.file_hold_back_bytes): 0 holds nothing, the file only streams.
// When the tunnel goes (dispose()), pending waits are cancelled, open
// transfers end as partial, and nothing held is released or refused.
import type { FileInfo, Verdict } from '../../events/types';
import type { EventDraft, Side } from '../types';
import { Base64Stream } from './base64';
import { attr, child, type XElement } from './element';
import { escapeXml } from './escape';
import { isVerdictSink, type FileDataSink, type FileVerdict, type VerdictSink } from './transfer';

export const NS_IBB = 'http://jabber.org/protocol/ibb';
const NS_SI = 'http://jabber.org/protocol/si';
const NS_SI_FT = 'http://jabber.org/protocol/si/profile/file-transfer';
const NS_JINGLE = 'urn:xmpp:jingle:1';
const NS_JINGLE_IBB = 'urn:xmpp:jingle:transports:ibb:1';

export interface IbbLimits {
  /** Concurrent transfers tracked per session; more are passed untracked (logged). */
  maxTransfers: number;
  /** Offers (sid -> file) and blocked sids remembered per session. */
  maxSids: number;
  /** Bytes decoded per transfer; past it the transfer ends as partial (over_cap) and later data only passes. */
  maxFileBytes: number;
  /** Decoded bytes of message-stanza data held back until the verdict (as the ICAP trickle's 8 KiB), unless the sink states its own. */
  holdBackBytes: number;
  /** Stanzas one transfer may hold; more are dropped as blocked (a sender running on past its file's end). */
  maxHeldStanzas: number;
}

export const IBB_LIMITS: IbbLimits = { maxTransfers: 16, maxSids: 64, maxFileBytes: 2 ** 40, holdBackBytes: 8 * 1024, maxHeldStanzas: 32 };

/** A stanza kept back until its file's verdict: its bytes as they came, and what the session needs to refuse it. */
export interface HeldStanza {
  local: string;
  el: XElement;
  bytes: Buffer;
  /** Decoded file bytes it carries (0 for <close/>). */
  size: number;
}

/** What the session does with held stanzas once decided (session.ts). */
export interface IbbHoldHost {
  /** Forward it unchanged, in order, after whatever already passed. */
  release(side: Side, s: HeldStanza): void;
  /** Suppress them as blocked by `rule` (sender told, XEP-0198 kept valid); `closeSid`: also close the sid towards the receiver. */
  drop(side: Side, held: readonly HeldStanza[], rule: string, sid: string, closeSid: boolean): void;
}

interface Transfer {
  readonly sink: FileDataSink;
  readonly b64: Base64Stream;
  readonly sid: string;
  readonly declared: number | undefined;
  size: number;
  /** Next expected seq (XEP-0047 counts 0..65535 and wraps). */
  seq: number;
  seqGaps: number;
  overCap: boolean;
  /** The sink ended (file complete at its declared size, or closed): later data is not the file. */
  ended: boolean;
  /** Stanzas held until the verdict, in order; null when nothing is held. */
  held: HeldStanza[] | null;
  heldBytes: number;
  /** The file's end was reached while holding: everything from this side of the sid waits for the verdict. */
  deciding: boolean;
  /** Decoded bytes of message-stanza data to hold (the sink's, else the limit). */
  holdBack: number;
}

/** The hold-back a verdict sink states (inspect.file_hold_back_bytes), else the limit. */
export function sinkHoldBack(sink: FileDataSink, fallback: number): number {
  const n = isVerdictSink(sink) ? sink.holdBackBytes : undefined;
  return n !== undefined && Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** What one stanza means for IBB. */
export type IbbItem = { op: 'open' | 'data' | 'close'; sid: string; el: XElement } | null;

export function ibbItem(stanza: XElement): IbbItem {
  // An error bounce may carry the original payload back (RFC 6120 8.3.1;
  // @xmpp/client's answer to an unhandled iq does), and a result carries none:
  // neither is the transfer, so their <data/> must not count as bytes sent.
  const type = attr(stanza, 'type');
  if (type === 'error' || type === 'result') return null;
  for (const c of stanza.children) {
    if (c.ns !== NS_IBB) continue;
    if (c.local !== 'open' && c.local !== 'data' && c.local !== 'close') continue;
    const sid = attr(c, 'sid');
    if (sid === undefined || sid === '') return null;
    return { op: c.local, sid, el: c };
  }
  return null;
}

/** An IBB <close/> the gateway sends a receiver whose file was blocked (XEP-0047 2.3). */
export function ibbClose(id: string, sid: string, to: string | undefined, from: string | undefined): Buffer {
  const a = `${to ? ` to='${escapeXml(to)}'` : ''}${from ? ` from='${escapeXml(from)}'` : ''}`;
  return Buffer.from(`<iq type='set' id='${escapeXml(id)}'${a}><close xmlns='${NS_IBB}' sid='${escapeXml(sid)}'/></iq>`, 'utf8');
}

/** sid and file of an SI file-transfer offer or a Jingle IBB session. */
function offeredSids(stanza: XElement): Array<{ sid: string; file: FileInfo }> {
  const si = child(stanza, 'si', NS_SI);
  if (si) {
    const id = attr(si, 'id');
    const f = child(si, 'file', NS_SI_FT);
    if (id === undefined || id === '') return [];
    const file: FileInfo = {};
    const name = f ? attr(f, 'name') : undefined;
    const size = f ? attr(f, 'size') : undefined;
    if (name) file.name = name;
    if (size !== undefined && /^\d{1,15}$/.test(size)) file.size = Number(size);
    return [{ sid: id, file }];
  }
  const j = child(stanza, 'jingle', NS_JINGLE);
  if (!j) return [];
  const out: Array<{ sid: string; file: FileInfo }> = [];
  for (const content of j.children) {
    const t = child(content, 'transport', NS_JINGLE_IBB);
    const sid = t ? attr(t, 'sid') : undefined;
    if (sid === undefined || sid === '') continue;
    const d = content.children.find((c) => c.local === 'description');
    const f = d?.children.find((c) => c.local === 'file');
    const file: FileInfo = {};
    const name = f ? child(f, 'name')?.text : undefined;
    const size = f ? child(f, 'size')?.text.trim() : undefined;
    if (name) file.name = name;
    if (size !== undefined && /^\d{1,15}$/.test(size)) file.size = Number(size);
    out.push({ sid, file });
  }
  return out;
}

/** Set with insertion-order eviction past `max`. */
function remember<V>(m: Map<string, V>, k: string, v: V, max: number): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > max) m.delete(m.keys().next().value as string);
}

export class IbbTracker {
  private readonly offers = new Map<string, FileInfo>();
  private readonly blocked = new Map<string, Verdict>();
  private readonly transfers = new Map<string, Transfer>();
  /** Transfers not tracked because the table was full (reported, not fatal). */
  untracked = 0;
  /** Verdict waits in progress (decide()): their timers, cleared on dispose. */
  private readonly waits = new Set<NodeJS.Timeout>();
  private disposed = false;

  constructor(
    private readonly open: (draft: EventDraft) => FileDataSink,
    private readonly limits: IbbLimits = IBB_LIMITS,
    /** Absent (replay, harnesses): nothing is held. */
    private readonly host?: IbbHoldHost,
  ) {}

  /** An offer stanza (SI, Jingle, IBB open) and its verdict: remembers the file, or the block. */
  noteOffer(stanza: XElement, verdict: Verdict): void {
    const item = ibbItem(stanza);
    const sids = item?.op === 'open' ? [{ sid: item.sid, file: this.offers.get(item.sid) ?? {} }] : offeredSids(stanza);
    const blocks = verdict.action === 'block' || verdict.action === 'redact';
    for (const { sid, file } of sids) {
      if (blocks) remember(this.blocked, sid, verdict, this.limits.maxSids);
      else if (item === null) remember(this.offers, sid, file, this.limits.maxSids);
    }
  }

  /** The file an SI/Jingle offer announced for `sid` (for the IBB open's event). */
  fileOf(sid: string): FileInfo | undefined {
    return this.offers.get(sid);
  }

  /** The verdict that blocked `sid`'s offer, if one did: its data must not pass either. */
  blockedBy(sid: string): Verdict | undefined {
    return this.blocked.get(sid);
  }

  /**
   * An allowed IBB stanza from `side`, before it is forwarded. `base`
   * describes the transfer (account, peer) for the file event when this
   * stanza starts it. `stanza` is the stanza itself: true means the tracker
   * keeps it until its file's verdict (the caller must not forward it).
   */
  onForwarded(side: Side, item: NonNullable<IbbItem>, base: Omit<EventDraft, 'kind' | 'side' | 'file'>, stanza?: { local: string; el: XElement; bytes: Buffer }): boolean {
    if (this.disposed) return false;
    const key = `${side} ${item.sid}`;
    let t = this.transfers.get(key);
    if (t?.held != null && stanza !== undefined && item.op !== 'open') {
      // Order within the sid is kept: behind a held stanza, everything waits.
      const window = !t.deciding;
      if (item.op === 'data' && window) this.feedData(t, item);
      this.hold(side, t, stanza, item.op === 'data' && window ? this.lastDecoded : 0);
      if (item.op === 'data' && window) this.releaseOver(side, t);
      if (item.op === 'close') {
        if (!t.deciding) this.decide(side, t, true);
        // The held stanzas live on in decide(); the sid is done, both ways.
        this.transfers.delete(key);
        this.finish(`${side === 'c2s' ? 's2c' : 'c2s'} ${item.sid}`, true);
      }
      return true;
    }
    if (item.op === 'close') {
      // Either party may close: both directions of the sid end.
      this.finish(`${side} ${item.sid}`, true);
      this.finish(`${side === 'c2s' ? 's2c' : 'c2s'} ${item.sid}`, true);
      return false;
    }
    if (item.op === 'open') {
      // A re-open of a live sid starts over.
      if (t !== undefined) this.finish(key, false);
      this.start(key, side, item.sid, base);
      return false;
    }
    t ??= this.start(key, side, item.sid, base);
    if (t === undefined || t.overCap || t.ended) return false;
    this.feedData(t, item);
    if (stanza === undefined || t.overCap || !this.holds(t)) return false;
    if (t.declared !== undefined) {
      if (t.size < t.declared) return false;
      // This stanza completes the offered size: the file is whole, decide it now.
      this.hold(side, t, stanza, this.lastDecoded);
      this.decide(side, t, true);
      return true;
    }
    if (stanza.local !== 'message') return false;
    this.hold(side, t, stanza, this.lastDecoded);
    this.releaseOver(side, t);
    return true;
  }

  /** Decoded bytes of the last data stanza fed (for the hold window). */
  private lastDecoded = 0;

  private feedData(t: Transfer, item: NonNullable<IbbItem>): void {
    this.lastDecoded = 0;
    if (t.overCap || t.ended) return;
    const seqAttr = attr(item.el, 'seq');
    if (seqAttr !== undefined && /^\d{1,5}$/.test(seqAttr)) {
      const seq = Number(seqAttr);
      // A resent chunk (same seq as the last one) would count twice.
      if (seq === ((t.seq + 65535) & 0xffff) && t.size > 0) return;
      if (seq !== t.seq) t.seqGaps++;
      t.seq = (seq + 1) & 0xffff;
    }
    const before = t.size;
    for (const b of t.b64.push(item.el.text)) {
      this.feed(t, b);
      if (t.overCap) return;
    }
    this.lastDecoded = t.size - before;
  }

  private holds(t: Transfer): boolean {
    return this.host !== undefined && isVerdictSink(t.sink) && t.sink.scanning && t.holdBack > 0;
  }

  private hold(side: Side, t: Transfer, stanza: { local: string; el: XElement; bytes: Buffer }, size: number): void {
    const held = (t.held ??= []);
    if (held.length >= this.limits.maxHeldStanzas) {
      // A sender running on past its file's end: refused, not buffered.
      this.host?.drop(side, [{ ...stanza, size }], 'ibb:over-held', t.sid, false);
      return;
    }
    // A copy: the stanza may be a view into a large socket read that would otherwise stay alive with it.
    held.push({ local: stanza.local, el: stanza.el, bytes: Buffer.from(stanza.bytes), size });
    t.heldBytes += size;
  }

  /** Message-stanza data: stanzas before the last holdBackBytes go out now. */
  private releaseOver(side: Side, t: Transfer): void {
    const held = t.held;
    if (held === null) return;
    while (held.length > 0 && t.heldBytes - (held[0] as HeldStanza).size >= t.holdBack) {
      const s = held.shift() as HeldStanza;
      t.heldBytes -= s.size;
      this.host?.release(side, s);
    }
    if (held.length === 0) t.held = null;
  }

  /** The file ended while stanzas are held: end the sink and act on its verdict (bounded wait). */
  private decide(side: Side, t: Transfer, closed: boolean): void {
    t.deciding = true;
    const sink = t.sink as VerdictSink;
    if (!t.ended) this.endSink(t, closed, {});
    const wait = sink.verdictWait();
    let settled = false;
    const act = (v: FileVerdict): void => {
      if (settled || this.disposed) return;
      settled = true;
      clearTimeout(timer);
      this.waits.delete(timer);
      const held = t.held ?? [];
      t.held = null;
      t.heldBytes = 0;
      t.deciding = false;
      if (held.length === 0 || this.host === undefined) return;
      if (v.pass) for (const s of held) this.host.release(side, s);
      else this.host.drop(side, held, v.rule, t.sid, true);
    };
    const timer = setTimeout(() => act(wait.failOpen ? { pass: true } : { pass: false, why: `no AV verdict within ${wait.ms} ms`, rule: 'av:timeout' }), wait.ms);
    timer.unref();
    this.waits.add(timer);
    void sink.verdict.then(act);
  }

  private start(key: string, side: Side, sid: string, base: Omit<EventDraft, 'kind' | 'side' | 'file'>): Transfer | undefined {
    if (this.transfers.size >= this.limits.maxTransfers) {
      this.untracked++;
      return undefined;
    }
    const file = this.offers.get(sid) ?? {};
    const draft: EventDraft = { ...base, kind: 'file', side, file: { ...file }, detail: { ...base.detail, via: 'ibb', sid } };
    const declared = file.size !== undefined && file.size > 0 ? file.size : undefined;
    const sink = this.open(draft);
    const holdBack = sinkHoldBack(sink, this.limits.holdBackBytes);
    const t: Transfer = { sink, b64: new Base64Stream(), sid, declared, size: 0, seq: 0, seqGaps: 0, overCap: false, ended: false, held: null, heldBytes: 0, deciding: false, holdBack };
    this.transfers.set(key, t);
    return t;
  }

  private feed(t: Transfer, b: Buffer): void {
    if (t.size + b.length > this.limits.maxFileBytes) {
      // Stays in the table (so later data does not start a new transfer) until close.
      t.overCap = true;
      this.endSink(t, false, { over_cap: this.limits.maxFileBytes });
      return;
    }
    t.size += b.length;
    t.sink.write(b);
  }

  private finish(key: string, closed: boolean): void {
    const t = this.transfers.get(key);
    if (t === undefined) return;
    this.transfers.delete(key);
    // A window still held (message data, the other party closed): decided like its own close.
    if (t.held !== null && !t.deciding) this.decide(key.startsWith('c2s ') ? 'c2s' : 's2c', t, closed);
    else if (!t.overCap && !t.ended) this.endSink(t, closed, {});
  }

  private endSink(t: Transfer, closed: boolean, detail: Record<string, string | number | boolean>): void {
    if (t.ended) return;
    t.ended = true;
    if (!t.overCap) {
      for (const b of t.b64.flush()) {
        t.size += b.length;
        t.sink.write(b);
      }
    }
    if (t.b64.invalid) detail.bad_base64 = true;
    if (t.seqGaps > 0) detail.seq_gaps = t.seqGaps;
    t.sink.end(closed && t.seqGaps === 0 && !t.b64.invalid, detail);
  }

  /**
   * The tunnel is gone: verdict waits are cancelled (their timers cleared, a
   * late verdict does nothing), open transfers end as partial, held stanzas
   * are dropped unsent and the host is never called again. Idempotent.
   */
  dispose(): void {
    if (this.disposed) return;
    this.endSide(null);
    this.disposed = true;
    for (const timer of this.waits) clearTimeout(timer);
    this.waits.clear();
  }

  /** `side` ended (or the session closed): its transfers end where they are; held stanzas are never sent. */
  endSide(side: Side | null): void {
    for (const key of [...this.transfers.keys()]) {
      if (side !== null && !key.startsWith(`${side} `)) continue;
      const t = this.transfers.get(key) as Transfer;
      t.held = null;
      t.heldBytes = 0;
      this.finish(key, false);
    }
  }
}
