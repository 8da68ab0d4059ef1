// In-band bytestreams (XEP-0047) as they pass: each <data/> payload of an
// allowed session is base64-decoded incrementally per (sid, direction) and
// handed to a FileDataSink (hash, size, AV, archive); <close/> or the end of
// the stream finishes the transfer. The file's name and size come from the
// offer that announced the sid: SI file transfer (XEP-0095/0096, si id = IBB
// sid) or a Jingle IBB transport (XEP-0261 sid). A sid whose offer the
// policy blocked is remembered so its data stanzas are refused too.
// Everything is bounded: transfers, remembered offers and blocked sids.
import type { FileInfo, Verdict } from '../../events/types';
import type { EventDraft, Side } from '../types';
import { Base64Stream } from './base64';
import { attr, child, type XElement } from './element';
import type { FileDataSink } from './transfer';

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
}

export const IBB_LIMITS: IbbLimits = { maxTransfers: 16, maxSids: 64, maxFileBytes: 2 ** 40 };

interface Transfer {
  readonly sink: FileDataSink;
  readonly b64: Base64Stream;
  size: number;
  /** Next expected seq (XEP-0047 counts 0..65535 and wraps). */
  seq: number;
  seqGaps: number;
  overCap: boolean;
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

  constructor(
    private readonly open: (draft: EventDraft) => FileDataSink,
    private readonly limits: IbbLimits = IBB_LIMITS,
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
   * A forwarded IBB stanza from `side`. `base` describes the transfer
   * (account, peer) for the file event when this stanza starts it.
   */
  onForwarded(side: Side, item: NonNullable<IbbItem>, base: Omit<EventDraft, 'kind' | 'side' | 'file'>): void {
    if (item.op === 'close') {
      // Either party may close: both directions of the sid end.
      this.finish(`${side} ${item.sid}`, true);
      this.finish(`${side === 'c2s' ? 's2c' : 'c2s'} ${item.sid}`, true);
      return;
    }
    const key = `${side} ${item.sid}`;
    let t = this.transfers.get(key);
    if (item.op === 'open') {
      // A re-open of a live sid starts over.
      if (t !== undefined) this.finish(key, false);
      this.start(key, side, item.sid, base);
      return;
    }
    t ??= this.start(key, side, item.sid, base);
    if (t === undefined || t.overCap) return;
    const seqAttr = attr(item.el, 'seq');
    if (seqAttr !== undefined && /^\d{1,5}$/.test(seqAttr)) {
      const seq = Number(seqAttr);
      // A resent chunk (same seq as the last one) would count twice.
      if (seq === ((t.seq + 65535) & 0xffff) && t.size > 0) return;
      if (seq !== t.seq) t.seqGaps++;
      t.seq = (seq + 1) & 0xffff;
    }
    for (const b of t.b64.push(item.el.text)) {
      this.feed(t, b);
      if (t.overCap) return;
    }
  }

  private start(key: string, side: Side, sid: string, base: Omit<EventDraft, 'kind' | 'side' | 'file'>): Transfer | undefined {
    if (this.transfers.size >= this.limits.maxTransfers) {
      this.untracked++;
      return undefined;
    }
    const file = this.offers.get(sid) ?? {};
    const draft: EventDraft = { ...base, kind: 'file', side, file: { ...file }, detail: { ...base.detail, via: 'ibb', sid } };
    const t: Transfer = { sink: this.open(draft), b64: new Base64Stream(), size: 0, seq: 0, seqGaps: 0, overCap: false };
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
    if (!t.overCap) this.endSink(t, closed, {});
  }

  private endSink(t: Transfer, closed: boolean, detail: Record<string, string | number | boolean>): void {
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

  /** `side` ended (or the session closed): its transfers end where they are. */
  endSide(side: Side | null): void {
    for (const key of [...this.transfers.keys()]) {
      if (side === null || key.startsWith(`${side} `)) this.finish(key, false);
    }
  }
}
