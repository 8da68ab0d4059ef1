// What the ICAP door remembers about one BOSH session between exchanges.
// Squid hands imgate each request and each response as a separate ICAP
// transaction, so the only thread joining them is the BOSH `sid` (XEP-0124)
// that every body names. The table is bounded three ways: number of sessions
// (least recently used goes first), idle time (a session nobody touched for
// `idleMs` is forgotten) and owed bytes per session (error stanzas waiting
// for a response body; too many or too old ones are dropped, since a client
// that never polls again will never read them).
import { boundedTable, type BoundedTable } from '../util/lru';

export interface BoshStateLimits {
  /** Sessions remembered. */
  maxSessions: number;
  /** A session untouched this long is forgotten (BOSH `inactivity` is usually 60 s). */
  idleMs: number;
  /** Bytes of owed stanzas per session. */
  maxOwedBytes: number;
  /** An owed stanza older than this is dropped instead of delivered. */
  owedTtlMs: number;
}

export const DEFAULT_BOSH_LIMITS: BoshStateLimits = { maxSessions: 4096, idleMs: 5 * 60_000, maxOwedBytes: 16 * 1024, owedTtlMs: 60_000 };

interface Owed {
  bytes: Buffer;
  at: number;
}

/**
 * XEP-0198 on the ICAP door. Squid hands requests and responses over
 * separately and a request with nothing but an <a h/> is never rewritten, so
 * client acks cannot be translated here; instead the counts are kept equal
 * by construction: a blocked client stanza is replaced by a ping the server
 * counts, and its answer, in the response, is replaced by the error stanza
 * the client counts. No offsets ever exist, so every h (acks, resumption)
 * passes unchanged and there are no counters to keep, only the pings.
 */
export interface BoshSmState {
  /** Stream management is on for the session (<enable/> or <resume/> sent). */
  on: boolean;
  /** Substitute pings awaiting their answer: id -> the error stanza the client gets in its place. */
  pings: Map<string, Owed>;
  seq: number;
}

/** Substitute pings waiting per session (each blocked message of a round trip is one). */
export const MAX_PINGS = 64;

export interface BoshSessionState {
  /** The XMPP domain (session-creation `to`, or the manager's `from`). */
  domain?: string;
  /** Bare JID of the authenticated account. */
  account?: string;
  owed: Owed[];
  owedBytes: number;
  /** Made when the session first shows stream management. */
  sm?: BoshSmState;
}

export class BoshStateTable {
  private readonly map: BoundedTable<BoshSessionState>;

  constructor(
    private readonly limits: BoshStateLimits = DEFAULT_BOSH_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.map = boundedTable({ max: limits.maxSessions, ttlMs: limits.idleMs, now });
  }

  get size(): number {
    return this.map.size;
  }

  /** The session's state, refreshed; undefined when unknown or expired. */
  get(key: string): BoshSessionState | undefined {
    return this.map.get(key);
  }

  /** The session's state, created when unknown. */
  touch(key: string): BoshSessionState {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    // Sessions are created once per login: the moment to drop the dead ones,
    // so a table that is far from full does not keep them either.
    this.map.purgeStale();
    const s: BoshSessionState = { owed: [], owedBytes: 0 };
    this.map.set(key, s);
    return s;
  }

  /** Queues a stanza for the session's next response; false when over the byte bound. */
  owe(key: string, bytes: Buffer): boolean {
    const s = this.touch(key);
    this.dropStale(s);
    if (s.owedBytes + bytes.length > this.limits.maxOwedBytes) return false;
    s.owed.push({ bytes, at: this.now() });
    s.owedBytes += bytes.length;
    return true;
  }

  /** Takes what the session is owed (still fresh), or null. */
  take(key: string): Buffer | null {
    const s = this.get(key);
    if (s === undefined || s.owed.length === 0) return null;
    this.dropStale(s);
    const out = s.owed.length === 0 ? null : Buffer.concat(s.owed.map((o) => o.bytes));
    s.owed = [];
    s.owedBytes = 0;
    return out;
  }

  /** Whether the session has anything owed, error stanzas or pings' answers to replace (without taking it or refreshing it). */
  owes(key: string): boolean {
    const s = this.map.peek(key);
    return s !== undefined && (s.owed.length > 0 || (s.sm !== undefined && s.sm.pings.size > 0));
  }

  /** Records a substitute ping whose answer becomes `error`; false when the session has too many waiting. */
  ping(s: BoshSessionState, id: string, error: Buffer): boolean {
    const sm = (s.sm ??= { on: true, pings: new Map(), seq: 0 });
    const limit = this.now() - this.limits.owedTtlMs;
    // A ping unanswered this long will not be: its error is not delivered late either.
    for (const [k, o] of sm.pings) if (o.at < limit) sm.pings.delete(k);
    if (sm.pings.size >= MAX_PINGS) return false;
    sm.pings.set(id, { bytes: error, at: this.now() });
    return true;
  }

  forget(key: string): void {
    this.map.delete(key);
  }

  private dropStale(s: BoshSessionState): void {
    const limit = this.now() - this.limits.owedTtlMs;
    while (s.owed.length > 0 && (s.owed[0] as Owed).at < limit) {
      s.owedBytes -= (s.owed.shift() as Owed).bytes.length;
    }
  }
}
