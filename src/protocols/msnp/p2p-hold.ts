// Holding back an MSNSLP INVITE that spans several P2P chunks. A switchboard
// carries at most ~1202 data bytes per P2P MSG (libpurple slplink.c), and a
// file INVITE with its base64 Context is often longer, so the EUF-GUID and
// the Context may arrive in different MSGs. While an INVITE is incomplete,
// every unit of that direction is held (order must be kept), up to a byte
// limit; when the INVITE completes (or the limit or FIN is hit) the session
// decides, drops the INVITE's own units if blocked, and releases the rest.
import type { FileInfo } from '../../events/types';
import type { MsnFileEnd } from './p2p-files';
import { buildDecline, decodeFileContext, FILE_TRANSFER_EUF_GUID, parseSlpInvite, type SlpInvite } from './p2p';

export interface HeldUnit {
  data: Buffer;
  /** P2P id of the INVITE this unit carries a chunk of. */
  key?: number;
  /** Client MSG transaction (c2s only): what to answer if the unit is dropped. */
  ack?: { trid: string; type: string };
  /** This MSG completes a scanned file: it waits for the verdict (verdict-hold.ts). */
  end?: MsnFileEnd;
}

export interface DecidedInvite {
  key: number;
  invite: SlpInvite;
  file: FileInfo;
  sender: string | undefined;
  /** MSNP2P header version the INVITE came in (0: found by a byte scan, header not read: its data cannot be reassembled). */
  version: 0 | 1 | 2;
  /** P2P body of the 603 Decline (absent when the header could not be read). */
  decline?: Buffer;
}

export type HoldStep = { kind: 'pass' } | { kind: 'held' } | { kind: 'decide'; release: HeldUnit[]; invites: DecidedInvite[] };

interface Pending {
  parts: Buffer[];
  got: number;
  total: number;
  sender: string | undefined;
  /** A 603 can be built for version 1 only (a v2 answer would need the sender's base id sequence). */
  version: 0 | 1 | 2;
}

/** At most this many INVITEs in flight per direction; more are decided on what arrived. */
const MAX_PENDING = 4;

export class P2pHold {
  private items: HeldUnit[] = [];
  private pending = new Map<number, Pending>();
  private decided: DecidedInvite[] = [];
  bytes = 0;

  constructor(private readonly limit: number) {}

  get active(): boolean {
    return this.items.length > 0;
  }

  isPending(key: number): boolean {
    return this.pending.has(key);
  }

  /** Offset the next chunk of INVITE `key` must have. */
  expected(key: number): number {
    return this.pending.get(key)?.got ?? -1;
  }

  /** Size of INVITE `key` (what its chunks add up to). */
  total(key: number): number {
    return this.pending.get(key)?.total ?? -1;
  }

  /** A unit that is not part of an INVITE, held only to keep order. */
  add(u: HeldUnit): HoldStep {
    if (!this.active) return { kind: 'pass' };
    this.push(u);
    return this.bytes > this.limit ? this.finish() : { kind: 'held' };
  }

  /** The first chunk of an INVITE (offset 0); `total` bounds what is collected. */
  start(u: HeldUnit, key: number, chunk: Buffer, total: number, sender: string | undefined, version: 0 | 1 | 2): HoldStep {
    if (this.pending.size >= MAX_PENDING || this.pending.has(key)) return this.add(u);
    this.pending.set(key, { parts: [Buffer.from(chunk)], got: chunk.length, total, sender, version });
    this.push({ ...u, key });
    return this.step(key);
  }

  /** A later chunk of a pending INVITE, at the expected offset. */
  more(u: HeldUnit, key: number, chunk: Buffer): HoldStep {
    const p = this.pending.get(key);
    if (p === undefined) return this.add(u);
    p.parts.push(Buffer.from(chunk));
    p.got += chunk.length;
    this.push({ ...u, key });
    return this.step(key);
  }

  /** Decide every pending INVITE on what arrived and release everything. */
  finish(): HoldStep {
    for (const key of [...this.pending.keys()]) this.complete(key);
    return this.release();
  }

  private step(key: number): HoldStep {
    const p = this.pending.get(key) as Pending;
    if (p.got >= p.total) this.complete(key);
    if (this.pending.size === 0) return this.release();
    return this.bytes > this.limit ? this.finish() : { kind: 'held' };
  }

  private complete(key: number): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    this.pending.delete(key);
    const text = Buffer.concat(p.parts).toString('utf8');
    const invite = parseSlpInvite(text);
    if (invite === null || invite.eufGuid !== FILE_TRANSFER_EUF_GUID) return;
    const d: DecidedInvite = { key, invite, file: decodeFileContext(invite.context), sender: p.sender, version: p.version };
    if (p.version === 1) d.decline = buildDecline(invite);
    this.decided.push(d);
  }

  private release(): HoldStep {
    const step: HoldStep = { kind: 'decide', release: this.items, invites: this.decided };
    this.items = [];
    this.decided = [];
    this.pending.clear();
    this.bytes = 0;
    return step;
  }

  private push(u: HeldUnit): void {
    this.items.push(u);
    this.bytes += u.data.length;
  }
}

export { FILE_TRANSFER_EUF_GUID };
