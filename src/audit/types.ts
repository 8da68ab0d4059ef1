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

/**
 * A batch the queue fills as events arrive, in the form its store writes
 * fastest (SQLite: encoded bytes off the JS heap, see sqlite-wire.ts).
 */
export interface PendingBatch {
  readonly count: number;
  /** The store's own size bound is reached (bytes, not events): the queue seals it as it would a batch of batch_max events. */
  readonly full?: boolean;
  /** Memory the batch holds (stores that encode events); the queue bounds the sum. */
  readonly bytes?: number;
  /** Adds one record; throws (leaving the batch as it was) when the record cannot be encoded. */
  add(r: AuditRecord): void;
  /** Writes the whole batch atomically (one transaction); called again after a failure. */
  write(): Promise<void>;
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
  /** Matches the event's account or its peer (the account took part either way). */
  account?: string;
  /** Exactly the event's peer (a user or a channel); with `account`, one conversation. */
  peer?: string;
  /** The event's protocol or its app. */
  protocol?: string;
  since?: number;
  until?: number;
}

export interface SearchQuery extends EventFilter {
  /** Free text; matched as quoted FTS5 phrase terms (never as FTS syntax). Empty: every event. */
  text?: string;
  kind?: string;
  /** The verdict's action: allow | block | redact | log. */
  action?: string;
  /** Only events stored after this sequence number (the live view polls with the last seq it saw). */
  afterSeq?: number;
  /** Default newest first; a transcript reads oldest first. */
  order?: 'newest' | 'oldest';
  limit?: number;
}

/** What a usage chart splits its counts by. */
export type SeriesKey = 'protocol' | 'app' | 'user' | 'action' | 'kind';

export interface SeriesQuery extends EventFilter {
  since: number;
  until: number;
  /** Bucket width in ms; bucket starts are multiples of it (since the epoch). */
  bucketMs: number;
  by: SeriesKey;
  /** Keep the `top` keys with the most events overall; the rest are summed under '(other)'. Default 8. */
  top?: number;
}

/**
 * Events in [t, t + bucketMs) whose split key is `key` (protocol: protocol or 'unknown'; app: the
 * protocol and its app as the report's by_protocol lines, e.g. 'http/matrix'; user: user, client IP or '(unknown)').
 */
export interface SeriesPoint {
  t: number;
  key: string;
  count: number;
}

/** One conversation: messages between an account and a peer (a user or a channel). */
export interface Conversation {
  protocol: string | null;
  app: string | null;
  account: string | null;
  peer: string;
  messages: number;
  blocks: number;
  first: number;
  last: number;
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

/**
 * Every method is asynchronous: the SQLite store may answer at once (or from a
 * writer thread), PostgreSQL answers over the network. Callers always await.
 */
export interface Store {
  /** Writes a batch atomically (one transaction). */
  writeBatch(records: readonly AuditRecord[]): Promise<void>;
  /**
   * Optional: a new empty batch in the store's own form, for the queue; the
   * same rows as writeBatch of the same records. Absent: the queue collects
   * the records and calls writeBatch.
   */
  newBatch?(): PendingBatch;
  /** Registers archived content (or its metadata alone when storedPath is null). */
  putFile(f: { sha256: string; name: string | null; size: number; time: number; storedPath: string | null }): Promise<void>;
  search(q: SearchQuery): Promise<EventRow[]>;
  files(q: FileQuery): Promise<FileRow[]>;
  /** One archived file by its sha256 (the UI's download), or null. */
  file(sha256: string): Promise<ArchivedFile | null>;
  report(q: { since?: number; until?: number; topPeers?: number }): Promise<Report>;
  /** Event counts per time bucket and key, for the usage charts; buckets with no events are absent. */
  series(q: SeriesQuery): Promise<SeriesPoint[]>;
  /** Conversations with messages in the window, most recent first (default limit 100). */
  conversations(q: EventFilter & { limit?: number }): Promise<Conversation[]>;
  /** Events in insertion order from `since` (ms), for export; iterates lazily. */
  iterate(q: { since?: number; until?: number }): AsyncIterableIterator<EventRow>;
  count(q?: EventFilter): Promise<number>;
  stats(): Promise<StoreStats>;
  /**
   * Deletes events (and their FTS rows) older than `before` (at most `limit`), sessions that no
   * longer have events, and file rows no event refers to; returns archived
   * paths that are now unreferenced, for the archive to unlink.
   */
  deleteBefore(before: number, limit?: number): Promise<{ events: number; orphanedPaths: string[] }>;
  /** Deletes the oldest `n` events (size retention); same cleanup as deleteBefore. */
  deleteOldest(n: number): Promise<{ events: number; orphanedPaths: string[] }>;
  /** Sum of archived bytes (rows with a stored path). */
  archivedBytes(): Promise<number>;
  close(): Promise<void>;
}
