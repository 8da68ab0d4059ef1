// XEP-0198 resumption crosses TCP connections, so the counter offsets one
// inspected connection built up must outlive it: a client that reconnects
// (a new tunnel, a new XmppSession) with <resume previd=ID h=N/> needs N and
// the server's <resumed h=M/> translated with the old connection's offsets.
// Sessions have no shared home in the dissector contract, so this is a
// module-level table: keyed by server address + the stream-management id the
// server handed out (<enabled id=… resume='true'/>), bounded by entry count
// (least recently used goes first) and by the server's own resumption
// window (`max` on <enabled/>, capped), checked lazily.
import { boundedTable, type BoundedTable } from '../../util/lru';
import type { AckMapper } from './smacks';

/** What a resumed connection inherits. Live objects of the registering session: copy before use. */
export interface SmState {
  /** client -> server and server -> client counters of the session that registered. */
  up: AckMapper;
  down: AckMapper;
  /** Ids of gateway pings whose answers the server may still (re)send. */
  swallow: ReadonlySet<string>;
  account: string | undefined;
  fullJid: string | undefined;
}

export const MAX_RESUMABLE = 4096;
/** Prosody's default smacks_hibernation_time; used when <enabled/> names no max. */
export const DEFAULT_RESUME_SECONDS = 600;
const MAX_RESUME_SECONDS = 3600;
/** The server's window starts when it notices the drop; ours from our last sight of the session. */
const GRACE_MS = 30_000;

export function resumeTtlMs(max: string | undefined): number {
  const n = max !== undefined && /^\d{1,7}$/.test(max) ? Number(max) : DEFAULT_RESUME_SECONDS;
  return Math.min(Math.max(n, 1), MAX_RESUME_SECONDS) * 1000 + GRACE_MS;
}

export class ResumptionTable {
  private readonly entries: BoundedTable<SmState>;

  constructor(limit = MAX_RESUMABLE, now?: () => number) {
    // Each entry gets the server's own window at put(); reads do not extend
    // it (only a sign of life from the session does: touch).
    this.entries = boundedTable({ max: limit, ttlMs: resumeTtlMs(undefined), refreshOnGet: false, ...(now !== undefined ? { now } : {}) });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Registers (or re-registers, making it the newest) the state behind `key`. */
  put(key: string, state: SmState, ttlMs: number): void {
    this.entries.set(key, state, { ttl: ttlMs });
  }

  /** The session behind `key` was seen alive: its resumption window restarts. */
  touch(key: string): void {
    this.entries.get(key, { updateAgeOnGet: true });
  }

  get(key: string): SmState | undefined {
    return this.entries.get(key);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** The process-wide table the XMPP sessions share. */
export const resumptions = new ResumptionTable();

export function resumptionKey(host: string, port: number, id: string): string {
  return `${host}|${port}|${id}`;
}
