// The one bounded table every piece of cross-request or cross-connection
// state uses (BOSH sessions seen through ICAP or forwarded HTTP, MSN gateway
// origins, XEP-0198 resumption state): least recently used goes first past
// `max`, and with `ttlMs` an entry nobody touched for that long is gone.
// State that clients create must never grow without bound, and each table
// used to hand-roll this on a Map; lru-cache (already the verdict cache) does
// it with preallocated slots, so one dependency and one set of semantics.
import { LRUCache } from 'lru-cache';

export interface BoundedTableOptions {
  /** Entries kept; the least recently used is evicted past it. */
  max: number;
  /** Idle lifetime: an entry not read or written for this long is forgotten (lazily). */
  ttlMs?: number;
  /** Whether a read restarts the entry's lifetime (idle expiry); default true. */
  refreshOnGet?: boolean;
  /** Injected clock (tests). lru-cache reads a start time of 0 as "never expires": do not start a fake clock at 0. */
  now?: () => number;
}

export type BoundedTable<V extends object> = LRUCache<string, V>;

export function boundedTable<V extends object>(o: BoundedTableOptions): BoundedTable<V> {
  return new LRUCache<string, V>({
    max: o.max,
    ...(o.ttlMs !== undefined ? { ttl: o.ttlMs, updateAgeOnGet: o.refreshOnGet ?? true } : {}),
    // lru-cache caches "now" for ttlResolution ms by default; these tables are
    // touched rarely enough that an exact clock costs nothing, and an injected
    // clock must be read every time.
    ttlResolution: 0,
    ...(o.now !== undefined ? { perf: { now: o.now } } : {}),
  });
}
