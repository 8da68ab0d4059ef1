// Every query of the SQLite store, synchronous over one connection. The
// gateway keeps its own (read-only) connection for these while the writer
// thread holds the write connection: WAL lets both run at once.
import type Database from 'better-sqlite3';
import { compileGlobs } from '../util/glob';
import { ftsSearch, hasPhrases, matchAll, words, type FtsSearch } from './fts';
import type {
  ArchivedFile,
  Conversation,
  EventFilter,
  EventRow,
  FileQuery,
  FileRow,
  Report,
  ReportLine,
  SearchQuery,
  SeriesKey,
  SeriesPoint,
  SeriesQuery,
  StoreStats,
} from './types';

type Db = Database.Database;
type Param = string | number | null;

/** Raw row as SQLite returns it (JSON columns still text). */
type RawEvent = Omit<EventRow, 'groups' | 'detail'> & { groups: string | null; detail: string | null };

function toRow(r: RawEvent): EventRow {
  return { ...r, groups: r.groups ? (JSON.parse(r.groups) as string[]) : [], detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null };
}

type Filters = EventFilter & { kind?: string; action?: string; afterSeq?: number };

/** WHERE clauses for the filters every query shares; `e` is the events alias. */
function filterSql(f: Filters, where: string[], params: Param[]): void {
  if (f.user !== undefined) (where.push('e.user = ?'), params.push(f.user));
  if (f.account !== undefined) (where.push('(e.account = ? OR e.peer = ?)'), params.push(f.account, f.account));
  if (f.peer !== undefined) (where.push('e.peer = ?'), params.push(f.peer));
  if (f.protocol !== undefined) (where.push('(e.protocol = ? OR e.app = ?)'), params.push(f.protocol, f.protocol));
  if (f.kind !== undefined) (where.push('e.kind = ?'), params.push(f.kind));
  if (f.action !== undefined) (where.push('e.action = ?'), params.push(f.action));
  if (f.afterSeq !== undefined) (where.push('e.seq > ?'), params.push(f.afterSeq));
  if (f.since !== undefined) (where.push('e.time >= ?'), params.push(f.since));
  if (f.until !== undefined) (where.push('e.time < ?'), params.push(f.until));
}

const whereOf = (where: readonly string[]): string => (where.length ? ` WHERE ${where.join(' AND ')}` : '');

/** The split key of a usage chart, as SQL (labels as SeriesPoint documents). */
const SERIES_KEY: Record<SeriesKey, string> = {
  protocol: `coalesce(e.protocol, 'unknown')`,
  app: `coalesce(e.protocol, 'unknown') || coalesce('/' || e.app, '')`,
  user: `coalesce(e.user, e.client_ip, '(unknown)')`,
  action: `coalesce(e.action, '(none)')`,
  kind: 'e.kind',
};

export const OTHER_KEY = '(other)';
/** Rows per page when iterating for export: bounded memory, and the connection is never left mid-statement across an await. */
const PAGE = 1000;

export class SqliteReader {
  constructor(readonly db: Db) {
    // The phrase check of a search (fts.ts): its JSON argument is the same for every row of one query.
    let key = '';
    let phrases: string[] = [];
    db.function('imgate_phrases', { deterministic: true }, (text: unknown, list: unknown) => {
      if (typeof text !== 'string' || typeof list !== 'string') return 0;
      if (list !== key) {
        phrases = JSON.parse(list) as string[];
        key = list;
      }
      return hasPhrases(text, phrases) ? 1 : 0;
    });
  }

  search(q: SearchQuery): EventRow[] {
    const fts = q.text !== undefined ? ftsSearch(q.text) : null;
    if (q.text !== undefined && q.text.trim() !== '' && fts === null) return [];
    try {
      return this.searchWith(q, fts);
    } catch (err) {
      // A word that FTS5's tokenizer (Unicode 6.1 tables) cuts in two where
      // JS does not becomes a phrase, which a detail=none index refuses:
      // then the index is asked for the plain ASCII words only and every
      // word is checked on the candidates.
      if (fts === null || !/phrase queries are not supported/.test((err as Error).message)) throw err;
      const ascii = fts.tokens.filter((w) => /^[A-Za-z0-9]+$/.test(w));
      const each = fts.tokens.map((w) => words(w).join(' ')).filter((w) => w !== '');
      return this.searchWith(q, { tokens: ascii, phrases: [...fts.phrases, ...each] }, true);
    }
  }

  private searchWith(q: SearchQuery, fts: FtsSearch | null, fallback = false): EventRow[] {
    const where: string[] = [];
    const params: Param[] = [];
    if (fts !== null && fts.tokens.length > 0) (where.push('e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)'), params.push(matchAll(fts.tokens)));
    if (fts !== null && fts.phrases.length > 0) {
      // Only candidates the index found are checked (or, in the fallback, the rows the other filters leave).
      if (fallback) where.push('e.text IS NOT NULL');
      where.push('imgate_phrases(e.text, ?)');
      params.push(JSON.stringify(fts.phrases));
    }
    filterSql(q, where, params);
    params.push(q.limit ?? 100);
    const dir = q.order === 'oldest' ? 'ASC' : 'DESC';
    // A live poll (afterSeq) follows insertion order so its last seq is a
    // safe cursor; views order by event time.
    const order = q.afterSeq !== undefined ? `e.seq ${dir}` : `e.time ${dir}, e.seq ${dir}`;
    const rows = this.db.prepare(`SELECT e.* FROM events e${whereOf(where)} ORDER BY ${order} LIMIT ?`).all(...params) as RawEvent[];
    return rows.map(toRow);
  }

  files(q: FileQuery): FileRow[] {
    const where = ["e.kind = 'file'"];
    const params: Param[] = [];
    filterSql(q, where, params);
    if (q.name !== undefined) {
      // Matched in JS, as policy globs are (case-insensitive): SQLite's GLOB
      // stops at a NUL, and binary file names happen.
      const m = compileGlobs([q.name]);
      this.db.function('imgate_name_matches', { deterministic: true }, (v: unknown) => (typeof v === 'string' && m(v) ? 1 : 0));
      where.push('imgate_name_matches(e.file_name)');
    }
    params.push(q.limit ?? 1000);
    return this.db
      .prepare(
        `SELECT e.time, e.user, e.protocol, e.app, e.account, e.peer, e.direction, e.file_name AS name, e.file_size AS size,
                e.file_sha256 AS sha256, e.action, e.rule, f.stored_path
         FROM events e LEFT JOIN files f ON f.sha256 = e.file_sha256${whereOf(where)} ORDER BY e.time DESC, e.seq DESC LIMIT ?`,
      )
      .all(...params) as FileRow[];
  }

  file(sha256: string): ArchivedFile | null {
    const r = this.db.prepare('SELECT sha256, name, size, first_seen, stored_path FROM files WHERE sha256 = ?').get(sha256) as ArchivedFile | undefined;
    return r ?? null;
  }

  report(q: { since?: number; until?: number; topPeers?: number }): Report {
    const where: string[] = [];
    const params: Param[] = [];
    filterSql(q, where, params);
    const w = whereOf(where);
    const counts = `count(*) AS events, sum(e.kind = 'message') AS messages, sum(e.kind = 'file') AS files, sum(e.action = 'block') AS blocks`;
    const total = this.db.prepare(`SELECT ${counts} FROM events e${w}`).get(...params) as Report['total'];
    const top = q.topPeers ?? 3;
    const lines = (keyExpr: string): ReportLine[] => {
      const rows = this.db.prepare(`SELECT ${keyExpr} AS key, ${counts} FROM events e${w} GROUP BY key ORDER BY events DESC`).all(...params) as ReportLine[];
      const peers = this.db
        .prepare(
          `SELECT key, peer, n FROM (
             SELECT ${keyExpr} AS key, e.peer AS peer, count(*) AS n,
                    row_number() OVER (PARTITION BY ${keyExpr} ORDER BY count(*) DESC, e.peer) AS r
             FROM events e${whereOf([...where, 'e.peer IS NOT NULL'])} GROUP BY key, e.peer)
           WHERE r <= ?`,
        )
        .all(...params, top) as Array<{ key: string; peer: string; n: number }>;
      const byKey = new Map<string, Array<{ peer: string; count: number }>>();
      for (const p of peers) {
        const l = byKey.get(p.key) ?? [];
        l.push({ peer: p.peer, count: p.n });
        byKey.set(p.key, l);
      }
      return rows.map((r) => ({ ...r, messages: r.messages ?? 0, files: r.files ?? 0, blocks: r.blocks ?? 0, top_peers: byKey.get(r.key) ?? [] }));
    };
    return {
      since: q.since ?? null,
      until: q.until ?? null,
      total: { events: total.events, messages: total.messages ?? 0, files: total.files ?? 0, blocks: total.blocks ?? 0 },
      by_user: lines(`coalesce(e.user, e.client_ip, '(unknown)')`),
      by_protocol: lines(`coalesce(e.protocol, 'unknown') || coalesce('/' || e.app, '')`),
    };
  }

  series(q: SeriesQuery): SeriesPoint[] {
    if (!Number.isSafeInteger(q.bucketMs) || q.bucketMs < 1) throw new RangeError(`series: bucketMs must be a positive integer, got ${q.bucketMs}`);
    const where: string[] = [];
    const params: Param[] = [];
    filterSql(q, where, params);
    // The bucket start; the CAST because a bound JS number arrives as REAL, and REAL division would not truncate.
    const rows = this.db
      .prepare(`SELECT e.time - e.time % CAST(? AS INTEGER) AS t, ${SERIES_KEY[q.by]} AS key, count(*) AS count FROM events e${whereOf(where)} GROUP BY t, key`)
      .all(q.bucketMs, ...params) as SeriesPoint[];
    return foldSeries(rows, q.top ?? 8);
  }

  conversations(q: EventFilter & { limit?: number }): Conversation[] {
    const where = ["e.kind = 'message'", 'e.peer IS NOT NULL'];
    const params: Param[] = [];
    filterSql(q, where, params);
    params.push(q.limit ?? 100);
    return this.db
      .prepare(
        `SELECT e.protocol, e.app, e.account, e.peer, count(*) AS messages, coalesce(sum(e.action = 'block'), 0) AS blocks,
                min(e.time) AS first, max(e.time) AS last
         FROM events e${whereOf(where)} GROUP BY e.protocol, e.app, e.account, e.peer ORDER BY last DESC, messages DESC LIMIT ?`,
      )
      .all(...params) as Conversation[];
  }

  /** One page of events in insertion order after `afterSeq`. */
  page(q: { since?: number; until?: number }, afterSeq: number): EventRow[] {
    const where: string[] = [];
    const params: Param[] = [];
    filterSql({ ...q, afterSeq }, where, params);
    return (this.db.prepare(`SELECT e.* FROM events e${whereOf(where)} ORDER BY e.seq LIMIT ${PAGE}`).all(...params) as RawEvent[]).map(toRow);
  }

  count(q: EventFilter = {}): number {
    const where: string[] = [];
    const params: Param[] = [];
    filterSql(q, where, params);
    return (this.db.prepare(`SELECT count(*) AS n FROM events e${whereOf(where)}`).get(...params) as { n: number }).n;
  }

  stats(): StoreStats {
    const n = (sql: string): number => (this.db.prepare(sql).get() as { n: number }).n;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return {
      events: n('SELECT count(*) AS n FROM events'),
      sessions: n('SELECT count(*) AS n FROM sessions'),
      files: n('SELECT count(*) AS n FROM files'),
      // Pages in use: freed pages are reused, so this (not the file size) is what retention bounds.
      dbBytes: (pages - free) * pageSize,
    };
  }

  archivedBytes(): number {
    return (this.db.prepare('SELECT coalesce(sum(size), 0) AS n FROM files WHERE stored_path IS NOT NULL').get() as { n: number }).n;
  }
}

/**
 * Keeps the `top` keys with the most events over the whole window and sums
 * the rest per bucket under '(other)'. Sorted by bucket, then by rank (the
 * busiest key first, '(other)' last), so a chart's legend order is stable.
 */
export function foldSeries(rows: readonly SeriesPoint[], top: number): SeriesPoint[] {
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.key, (totals.get(r.key) ?? 0) + r.count);
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k]) => k);
  const rank = new Map<string, number>();
  ranked.slice(0, Math.max(0, top)).forEach((k, i) => rank.set(k, i));
  const other = new Map<number, number>();
  const out: SeriesPoint[] = [];
  for (const r of rows) {
    if (rank.has(r.key)) out.push({ t: r.t, key: r.key, count: r.count });
    else other.set(r.t, (other.get(r.t) ?? 0) + r.count);
  }
  for (const [t, count] of other) out.push({ t, key: OTHER_KEY, count });
  const pos = (k: string): number => rank.get(k) ?? Number.MAX_SAFE_INTEGER;
  return out.sort((a, b) => a.t - b.t || pos(a.key) - pos(b.key));
}
