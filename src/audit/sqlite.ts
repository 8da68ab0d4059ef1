// The embedded store: one SQLite file (WAL, so `imgate search` can read while
// the gateway writes), schema migrated on open by the writer only.
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { compileGlobs } from '../util/glob';
import { ftsQuery } from './fts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import type { AuditRecord, EventFilter, EventRow, FileQuery, FileRow, Report, ReportLine, SearchQuery, Store, StoreStats } from './types';

type Db = Database.Database;
type Param = string | number | null;

export interface SqliteOptions {
  readonly?: boolean;
}

/** Raw row as SQLite returns it (JSON columns still text). */
type RawEvent = Omit<EventRow, 'groups' | 'detail'> & { groups: string | null; detail: string | null };

function toRow(r: RawEvent): EventRow {
  return { ...r, groups: r.groups ? (JSON.parse(r.groups) as string[]) : [], detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null };
}

function migrate(db: Db): void {
  // IMMEDIATE takes the write lock before reading the version, so two
  // processes opening a fresh file cannot both run the same step.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`audit database schema version ${version} is newer than this imgate (${SCHEMA_VERSION})`);
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** WHERE clauses for the filters every query shares; `e` is the events alias. */
function filterSql(f: EventFilter & { kind?: string }, where: string[], params: Param[]): void {
  if (f.user !== undefined) (where.push('e.user = ?'), params.push(f.user));
  if (f.account !== undefined) (where.push('(e.account = ? OR e.peer = ?)'), params.push(f.account, f.account));
  if (f.protocol !== undefined) (where.push('(e.protocol = ? OR e.app = ?)'), params.push(f.protocol, f.protocol));
  if (f.kind !== undefined) (where.push('e.kind = ?'), params.push(f.kind));
  if (f.since !== undefined) (where.push('e.time >= ?'), params.push(f.since));
  if (f.until !== undefined) (where.push('e.time < ?'), params.push(f.until));
}

const whereOf = (where: string[]): string => (where.length ? ` WHERE ${where.join(' AND ')}` : '');

export class SqliteStore implements Store {
  readonly db: Db;
  /** Distinguishes connection ids of different gateway runs (they restart at 1). */
  readonly run = randomBytes(4).toString('hex');
  /** Prepared write statements; null on a read-only handle. */
  private readonly writer: { upsertFile: Database.Statement; writeTx: (records: readonly AuditRecord[]) => void } | null;

  constructor(readonly path: string, opts: SqliteOptions = {}) {
    if (opts.readonly) {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
      const v = this.db.pragma('user_version', { simple: true }) as number;
      if (v !== SCHEMA_VERSION) throw new Error(`${path}: audit schema version ${v}, this imgate reads ${SCHEMA_VERSION}`);
      this.db.pragma('busy_timeout = 5000');
      this.writer = null;
      return;
    }
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL under WAL: a committed batch survives a process crash; only an
    // OS crash / power loss can take the last transactions.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    const insertEvent = this.db.prepare(
      `INSERT INTO events (id, time, run, conn, door, client_ip, user, groups, protocol, app, direction, account, peer, kind, text,
         file_name, file_size, file_sha256, url, host, method, destination, action, rule, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const upsertSession = this.db.prepare(
      `INSERT INTO sessions (run, conn, door, client_ip, user, protocol, app, destination, first_seen, last_seen, events)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (run, conn) DO UPDATE SET
         last_seen = max(last_seen, excluded.last_seen), events = events + 1,
         user = coalesce(user, excluded.user), protocol = coalesce(protocol, excluded.protocol),
         app = coalesce(app, excluded.app), destination = coalesce(destination, excluded.destination)`,
    );
    const upsertFile = this.db.prepare(
      `INSERT INTO files (sha256, name, size, first_seen, last_seen, stored_path) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sha256) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),
         name = coalesce(name, excluded.name), stored_path = coalesce(stored_path, excluded.stored_path)`,
    );
    const writeTx = this.db.transaction((records: readonly AuditRecord[]) => {
      for (const { ev, verdict, detail } of records) {
        const d = ev.destination ? `${ev.destination.host}:${ev.destination.port}` : null;
        const f = ev.file;
        insertEvent.run(
          ev.id, ev.time, this.run, ev.conn, ev.door, ev.clientIp ?? null, ev.user ?? null,
          ev.groups.length ? JSON.stringify(ev.groups) : null, ev.protocol ?? null, ev.app ?? null, ev.direction ?? null,
          ev.account ?? null, ev.peer ?? null, ev.kind, ev.text ?? null,
          f?.name ?? null, f?.size ?? null, f?.sha256 ?? null, ev.url ?? null, ev.host ?? null, ev.method ?? null, d,
          verdict.action, verdict.rule, detail && Object.keys(detail).length ? JSON.stringify(detail) : null,
        );
        upsertSession.run(this.run, ev.conn, ev.door, ev.clientIp ?? null, ev.user ?? null, ev.protocol ?? null, ev.app ?? null, d, ev.time, ev.time);
        if (f?.sha256 !== undefined) upsertFile.run(f.sha256, f.name ?? null, f.size ?? 0, ev.time, ev.time, null);
      }
    });
    this.writer = { upsertFile, writeTx };
  }

  private w(): NonNullable<SqliteStore['writer']> {
    if (this.writer === null) throw new Error('audit store opened read-only');
    return this.writer;
  }

  writeBatch(records: readonly AuditRecord[]): void {
    if (records.length) this.w().writeTx(records);
  }

  putFile(f: { sha256: string; name: string | null; size: number; time: number; storedPath: string | null }): void {
    this.w().upsertFile.run(f.sha256, f.name, f.size, f.time, f.time, f.storedPath);
  }

  search(q: SearchQuery): EventRow[] {
    const where: string[] = [];
    const params: Param[] = [];
    const match = q.text !== undefined ? ftsQuery(q.text) : null;
    if (q.text !== undefined && q.text.trim() !== '' && match === null) return [];
    if (match !== null) (where.push('e.seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)'), params.push(match));
    filterSql(q, where, params);
    params.push(q.limit ?? 100);
    const rows = this.db.prepare(`SELECT e.* FROM events e${whereOf(where)} ORDER BY e.time DESC, e.seq DESC LIMIT ?`).all(...params) as RawEvent[];
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

  *iterate(q: { since?: number; until?: number }): IterableIterator<EventRow> {
    const where: string[] = [];
    const params: Param[] = [];
    filterSql(q, where, params);
    for (const r of this.db.prepare(`SELECT e.* FROM events e${whereOf(where)} ORDER BY e.seq`).iterate(...params)) yield toRow(r as RawEvent);
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

  deleteBefore(before: number, limit = Number.MAX_SAFE_INTEGER): { events: number; orphanedPaths: string[] } {
    return this.db.transaction(() => {
      const events = this.db.prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ? LIMIT ?)').run(before, limit).changes;
      return { events, orphanedPaths: this.cleanup(before) };
    })();
  }

  deleteOldest(n: number): { events: number; orphanedPaths: string[] } {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT max(time) AS t FROM (SELECT time FROM events ORDER BY seq LIMIT ?)').get(n) as { t: number | null };
      const events = this.db.prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)').run(n).changes;
      return { events, orphanedPaths: last.t === null ? [] : this.cleanup(last.t + 1) };
    })();
  }

  /** Sessions and files nothing refers to any more; `before` spares rows written just now whose events are still queued. */
  private cleanup(before: number): string[] {
    this.db.prepare('DELETE FROM sessions WHERE last_seen < ? AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run = sessions.run AND e.conn = sessions.conn)').run(before);
    const gone = this.db
      .prepare('DELETE FROM files WHERE last_seen < ? AND NOT EXISTS (SELECT 1 FROM events e WHERE e.file_sha256 = files.sha256) RETURNING stored_path')
      .all(before) as Array<{ stored_path: string | null }>;
    return gone.map((g) => g.stored_path).filter((p): p is string => p !== null);
  }

  archivedBytes(): number {
    return (this.db.prepare('SELECT coalesce(sum(size), 0) AS n FROM files WHERE stored_path IS NOT NULL').get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
