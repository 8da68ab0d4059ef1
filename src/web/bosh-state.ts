// What the ICAP door remembers about one BOSH session between exchanges.
// Squid hands imgate each request and each response as a separate ICAP
// transaction, so the only thread joining them is the BOSH `sid` (XEP-0124)
// that every body names. The table is bounded three ways: number of sessions
// (least recently used goes first), idle time (a session nobody touched for
// `idleMs` is forgotten) and owed bytes per session (error stanzas waiting
// for a response body; too many or too old ones are dropped, since a client
// that never polls again will never read them).

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

export interface BoshSessionState {
  /** The XMPP domain (session-creation `to`, or the manager's `from`). */
  domain?: string;
  /** Bare JID of the authenticated account. */
  account?: string;
  owed: Owed[];
  owedBytes: number;
  seen: number;
}

export class BoshStateTable {
  // Map order = recency: every touch re-inserts, so the first entry is the oldest.
  private readonly map = new Map<string, BoshSessionState>();

  constructor(
    private readonly limits: BoshStateLimits = DEFAULT_BOSH_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The session's state, refreshed; undefined when unknown or expired. */
  get(key: string): BoshSessionState | undefined {
    const s = this.map.get(key);
    if (s === undefined) return undefined;
    const t = this.now();
    this.map.delete(key);
    if (t - s.seen > this.limits.idleMs) return undefined;
    s.seen = t;
    this.map.set(key, s);
    return s;
  }

  /** The session's state, created when unknown. */
  touch(key: string): BoshSessionState {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    this.sweep();
    const s: BoshSessionState = { owed: [], owedBytes: 0, seen: this.now() };
    this.map.set(key, s);
    while (this.map.size > this.limits.maxSessions) this.map.delete(this.map.keys().next().value as string);
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

  /** Whether the session has anything owed (without taking it). */
  owes(key: string): boolean {
    const s = this.map.get(key);
    return s !== undefined && s.owed.length > 0;
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

  /** Drops idle sessions from the old end (cheap: stops at the first live one). */
  private sweep(): void {
    const limit = this.now() - this.limits.idleMs;
    for (const [k, s] of this.map) {
      if (s.seen >= limit) break;
      this.map.delete(k);
    }
  }
}
