// The record store contract. Everything above it (queue, CLI, retention,
// export, a later admin UI) talks to `Store`, so a PostgreSQL backend can be
// added beside the SQLite one without touching callers.
import type { ImEvent, Verdict } from '../events/types';

export type Detail = Record<string, unknown> | undefined;

/** One decided event as handed to the store. */
export interface AuditRecord {
  ev: ImEvent;
  verdict: Verdict;
  detail?: Detail;
}

/** What recordEvent() needs: fire-and-forget, never blocks, never throws. */
export interface AuditSink {
  record(ev: ImEvent, verdict: Verdict, detail?: Detail): void;
}

/** A stored event row (field names as in `imgate export` JSON lines). */
export interface EventRow {
  seq: number;
  id: string;
  time: number;
  run: string;
  conn: string;
  door: string;
  client_ip: string | null;
  user: string | null;
  groups: string[];
  protocol: string | null;
  app: string | null;
  direction: string | null;
  account: string | null;
  peer: string | null;
  kind: string;
  text: string | null;
  file_name: string | null;
  file_size: number | null;
  file_sha256: string | null;
  url: string | null;
  host: string | null;
  method: string | null;
  destination: string | null;
  action: string | null;
  rule: string | null;
  detail: Record<string, unknown> | null;
}

export interface EventFilter {
  user?: string;
  account?: string;
  protocol?: string;
  since?: number;
  until?: number;
}

export interface SearchQuery extends EventFilter {
  /** Free text; matched as quoted FTS5 phrase terms (never as FTS syntax). Empty: every event. */
  text?: string;
  kind?: string;
  limit?: number;
}

export interface FileQuery {
  since?: number;
  until?: number;
  /** Shell-style glob on the file name (* and ?, case-insensitive, like policy globs). */
  name?: string;
  limit?: number;
}

export interface FileRow {
  time: number;
  user: string | null;
  protocol: string | null;
  app: string | null;
  account: string | null;
  peer: string | null;
  direction: string | null;
  name: string | null;
  size: number | null;
  sha256: string | null;
  action: string | null;
  rule: string | null;
  /** Path of the archived content, when the gateway held and kept it. */
  stored_path: string | null;
}

export interface ArchivedFile {
  sha256: string;
  name: string | null;
  size: number;
  first_seen: number;
  stored_path: string | null;
}

export interface ReportLine {
  key: string;
  messages: number;
  files: number;
  blocks: number;
  events: number;
  top_peers: Array<{ peer: string; count: number }>;
}

export interface Report {
  since: number | null;
  until: number | null;
  total: { events: number; messages: number; files: number; blocks: number };
  by_user: ReportLine[];
  by_protocol: ReportLine[];
}

export interface StoreStats {
  events: number;
  sessions: number;
  files: number;
  dbBytes: number;
}

export interface Store {
  /** Writes a batch atomically (one transaction). */
  writeBatch(records: readonly AuditRecord[]): void;
  /** Registers archived content (or its metadata alone when storedPath is null). */
  putFile(f: { sha256: string; name: string | null; size: number; time: number; storedPath: string | null }): void;
  search(q: SearchQuery): EventRow[];
  files(q: FileQuery): FileRow[];
  report(q: { since?: number; until?: number; topPeers?: number }): Report;
  /** Events in insertion order from `since` (ms), for export; iterates lazily. */
  iterate(q: { since?: number; until?: number }): IterableIterator<EventRow>;
  count(q?: EventFilter): number;
  stats(): StoreStats;
  /**
   * Deletes events (and their FTS rows) older than `before` (at most `limit`), sessions that no
   * longer have events, and file rows no event refers to; returns archived
   * paths that are now unreferenced, for the archive to unlink.
   */
  deleteBefore(before: number, limit?: number): { events: number; orphanedPaths: string[] };
  /** Deletes the oldest `n` events (size retention); same cleanup as deleteBefore. */
  deleteOldest(n: number): { events: number; orphanedPaths: string[] };
  /** Sum of archived bytes (rows with a stored path). */
  archivedBytes(): number;
  close(): void;
}
