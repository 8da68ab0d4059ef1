// The PostgreSQL record store: one Pool per process, schema migrated on open
// (advisory lock, so a fleet starting together does not race), each batch one
// transaction of three set-based statements, every query the SQLite store
// answers answered with the same rows. `run` tells the fleet's processes
// apart: connection ids restart at 1 in every gateway.
import { randomBytes } from 'node:crypto';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { compileGlobs } from '../../util/glob';
import type {
  ArchivedFile, AuditRecord, Conversation, EventFilter, EventRow, FileQuery, FileRow, Report, ReportLine, SearchQuery, SeriesPoint,
  SeriesQuery, Store, StoreStats,
} from '../types';
import { columnsOf, pgText, prepareBatch } from './batch';
import { ftsPhrases } from './fts';
import { describe, poolConfig, type PgOpenOptions, type PgSettings } from './options';
import { PG_TYPES, toEventRow, type RawEventRow } from './rows';
import { checkVersion, migrate } from './schema';
import { foldSeries } from './series';
import { EVENT_COLUMNS, PROTOCOL_APP_KEY, USER_KEY, Where, filterSql, seriesKey, type Param } from './sql';

export interface PgStoreOptions extends PgOpenOptions {
  /** Errors of idle pooled connections (server restart, network): without a listener they would crash the process. */
  onPoolError?: (err: Error) => void;
}

const INSERT_EVENTS = `
  INSERT INTO events (run, id, time, conn, door, client_ip, "user", groups, protocol, app, direction, account, peer, kind, text,
    file_name, file_size, file_sha256, url, host, method, destination, action, rule, detail, fts)
  SELECT $1, u.id, u.time, u.conn, u.door, u.client_ip, u.usr, u.groups::json, u.protocol, u.app, u.direction, u.account, u.peer, u.kind, u.text,
    u.file_name, u.file_size, u.file_sha256, u.url, u.host, u.method, u.destination, u.action, u.rule, u.detail::json,
    CASE WHEN u.fts IS NULL THEN NULL ELSE to_tsvector('simple', u.fts) END
  FROM unnest($2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
    $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::int8[], $18::text[], $19::text[], $20::text[], $21::text[],
    $22::text[], $23::text[], $24::text[], $25::text[], $26::text[])
    AS u(id, time, conn, door, client_ip, usr, groups, protocol, app, direction, account, peer, kind, text,
    file_name, file_size, file_sha256, url, host, method, destination, action, rule, detail, fts)`;
const EVENT_KEYS = [
  'id', 'time', 'conn', 'door', 'client_ip', 'user', 'groups', 'protocol', 'app', 'direction', 'account', 'peer', 'kind', 'text',
  'file_name', 'file_size', 'file_sha256', 'url', 'host', 'method', 'destination', 'action', 'rule', 'detail', 'fts',
] as const;

const UPSERT_SESSIONS = `
  INSERT INTO sessions (run, conn, door, client_ip, "user", protocol, app, destination, first_seen, last_seen, events)
  SELECT $1, u.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[], $11::int8[])
    AS u(conn, door, client_ip, usr, protocol, app, destination, first_seen, last_seen, events)
  ON CONFLICT (run, conn) DO UPDATE SET
    last_seen = greatest(sessions.last_seen, excluded.last_seen), events = sessions.events + excluded.events,
    "user" = coalesce(sessions."user", excluded."user"), protocol = coalesce(sessions.protocol, excluded.protocol),
    app = coalesce(sessions.app, excluded.app), destination = coalesce(sessions.destination, excluded.destination)`;
const SESSION_KEYS = ['conn', 'door', 'client_ip', 'user', 'protocol', 'app', 'destination', 'first_seen', 'last_seen', 'events'] as const;

const UPSERT_FILES = `
  INSERT INTO files (sha256, name, size, first_seen, last_seen, stored_path)
  SELECT u.sha256, u.name, u.size, u.first_seen, u.last_seen, u.stored_path
  FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::text[]) AS u(sha256, name, size, first_seen, last_seen, stored_path)
  ON CONFLICT (sha256) DO UPDATE SET last_seen = greatest(files.last_seen, excluded.last_seen),
    name = coalesce(files.name, excluded.name), stored_path = coalesce(files.stored_path, excluded.stored_path)`;

const COUNTS =
  `count(*) AS events, count(*) FILTER (WHERE e.kind = 'message') AS messages, ` +
  `count(*) FILTER (WHERE e.kind = 'file') AS files, count(*) FILTER (WHERE e.action = 'block') AS blocks`;

const FILE_COLUMNS =
  `e.time, e."user", e.protocol, e.app, e.account, e.peer, e.direction, e.file_name AS name, e.file_size AS size, ` +
  `e.file_sha256 AS sha256, e.action, e.rule, f.stored_path`;

/** Rows fetched per round trip by iterate() and by a file-name search. */
const PAGE = 500;

export class PgStore implements Store {
  /** Distinguishes connection ids of different gateway runs (and of the fleet's processes). */
  readonly run = randomBytes(8).toString('hex');
  /** Where the store is, password left out (for logs). */
  readonly location: string;
  private closed: Promise<void> | null = null;

  private constructor(
    readonly pool: Pool,
    settings: PgSettings,
    private readonly readonly: boolean,
    readonly schemaVersion: number,
  ) {
    this.location = describe(settings);
  }

  /** Connects, then migrates the schema (or, read-only, checks its version). */
  static async open(settings: PgSettings, opts: PgStoreOptions = {}): Promise<PgStore> {
    const pool = new Pool({ ...poolConfig(settings, opts), types: PG_TYPES });
    pool.on('error', (err) => opts.onPoolError?.(err));
    try {
      const client = await pool.connect();
      let version: number;
      try {
        version = opts.readonly ? await checkVersion(client) : await migrate(client);
      } finally {
        client.release();
      }
      return new PgStore(pool, settings, opts.readonly === true, version);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`audit store ${describe(settings)}: ${(err as Error).message}`);
    }
  }

  private async q<R extends QueryResultRow>(text: string, values: readonly Param[] = []): Promise<R[]> {
    return (await this.pool.query<R>(text, values as unknown[])).rows;
  }

  private writable(): void {
    if (this.readonly) throw new Error('audit store opened read-only');
  }

  /** Runs fn in one transaction on one pooled connection. */
  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async writeBatch(records: readonly AuditRecord[]): Promise<void> {
    this.writable();
    if (records.length === 0) return;
    const b = prepareBatch(records);
    await this.tx(async (c) => {
      await c.query({ name: 'imgate_insert_events', text: INSERT_EVENTS, values: [this.run, ...EVENT_KEYS.map((k) => b.events[k])] });
      await c.query({ name: 'imgate_upsert_sessions', text: UPSERT_SESSIONS, values: [this.run, ...columnsOf(b.sessions, SESSION_KEYS)] });
      if (b.files.length) {
        const cols = columnsOf(b.files, ['sha256', 'name', 'size', 'first_seen', 'last_seen'] as const);
        await c.query({ name: 'imgate_upsert_files', text: UPSERT_FILES, values: [...cols, b.files.map(() => null)] });
      }
    });
  }

  async putFile(f: { sha256: string; name: string | null; size: number; time: number; storedPath: string | null }): Promise<void> {
    this.writable();
    await this.pool.query({
      name: 'imgate_upsert_files',
      text: UPSERT_FILES,
      values: [[pgText(f.sha256)], [pgText(f.name)], [f.size], [f.time], [f.time], [pgText(f.storedPath)]],
    });
  }

  async search(q: SearchQuery): Promise<EventRow[]> {
    const w = new Where();
    if (q.text !== undefined && q.text.trim() !== '') {
      const phrases = ftsPhrases(q.text);
      // Only punctuation: FTS5 would match nothing either.
      if (phrases === null) return [];
      w.add(`e.fts @@ (${phrases.map((p) => `phraseto_tsquery('simple', ${w.p(p)})`).join(' && ')})`);
    }
    filterSql(q, w);
    const dir = q.order === 'oldest' ? 'ASC' : 'DESC';
    const limit = w.p(q.limit ?? 100);
    const rows = await this.q<RawEventRow>(`SELECT ${EVENT_COLUMNS} FROM events e${w.sql()} ORDER BY e.time ${dir}, e.seq ${dir} LIMIT ${limit}`, w.params);
    return rows.map(toEventRow);
  }

  async files(q: FileQuery): Promise<FileRow[]> {
    const limit = q.limit ?? 1000;
    const base = (): Where => filterSql(q, new Where().add(`e.kind = 'file'`));
    const sql = (w: Where, n: string): string =>
      `SELECT ${FILE_COLUMNS}, e.seq FROM events e LEFT JOIN files f ON f.sha256 = e.file_sha256${w.sql()} ORDER BY e.time DESC, e.seq DESC LIMIT ${n}`;
    type Paged = FileRow & { seq: number };
    const strip = ({ seq: _seq, ...r }: Paged): FileRow => r;
    if (q.name === undefined) {
      const w = base();
      return (await this.q<Paged>(sql(w, w.p(limit)), w.params)).map(strip);
    }
    // The glob is matched in JS, exactly as the SQLite store and policy globs
    // match (case-insensitive, binary names included), over keyset pages.
    const m = compileGlobs([q.name]);
    const out: FileRow[] = [];
    let after: { time: number; seq: number } | null = null;
    while (out.length < limit) {
      const w = base();
      if (after !== null) w.add(`(e.time, e.seq) < (${w.p(after.time)}, ${w.p(after.seq)})`);
      const page: Paged[] = await this.q<Paged>(sql(w, w.p(PAGE)), w.params);
      for (const r of page) if (r.name !== null && m(r.name) && out.length < limit) out.push(strip(r));
      const last = page[page.length - 1];
      if (page.length < PAGE || last === undefined) break;
      after = { time: last.time, seq: last.seq };
    }
    return out;
  }

  async file(sha256: string): Promise<ArchivedFile | null> {
    const r = await this.q<ArchivedFile>('SELECT sha256, name, size, first_seen, stored_path FROM files WHERE sha256 = $1', [pgText(sha256)]);
    return r[0] ?? null;
  }

  async report(q: { since?: number; until?: number; topPeers?: number }): Promise<Report> {
    const w = filterSql(q);
    const [total] = await this.q<Report['total']>(`SELECT ${COUNTS} FROM events e${w.sql()}`, w.params);
    const top = q.topPeers ?? 3;
    const lines = async (key: string): Promise<ReportLine[]> => {
      // Ties in binary order, as SQLite compares text.
      const rows = await this.q<Omit<ReportLine, 'top_peers'>>(
        `SELECT * FROM (SELECT ${key} AS key, ${COUNTS} FROM events e${w.sql()} GROUP BY 1) l ORDER BY events DESC, key COLLATE "C"`,
        w.params,
      );
      const pw = filterSql(q, new Where().add('e.peer IS NOT NULL'));
      const peers = await this.q<{ key: string; peer: string; n: number }>(
        `SELECT key, peer, n FROM (
           SELECT ${key} AS key, e.peer AS peer, count(*) AS n,
                  row_number() OVER (PARTITION BY ${key} ORDER BY count(*) DESC, e.peer COLLATE "C") AS r
           FROM events e${pw.sql()} GROUP BY 1, 2) t
         WHERE r <= ${pw.p(top)} ORDER BY key, r`,
        pw.params,
      );
      const byKey = new Map<string, Array<{ peer: string; count: number }>>();
      for (const p of peers) {
        const l = byKey.get(p.key) ?? [];
        l.push({ peer: p.peer, count: p.n });
        byKey.set(p.key, l);
      }
      return rows.map((r) => ({ ...r, top_peers: byKey.get(r.key) ?? [] }));
    };
    return {
      since: q.since ?? null,
      until: q.until ?? null,
      total: total ?? { events: 0, messages: 0, files: 0, blocks: 0 },
      by_user: await lines(USER_KEY),
      by_protocol: await lines(PROTOCOL_APP_KEY),
    };
  }

  async series(q: SeriesQuery): Promise<SeriesPoint[]> {
    const w = filterSql(q);
    const b = w.p(q.bucketMs);
    // floor(), not integer division: bucket starts are multiples of bucketMs even before the epoch.
    const rows = await this.q<SeriesPoint>(
      `SELECT (floor(e.time::numeric / ${b}) * ${b})::int8 AS t, ${seriesKey(q.by)} AS key, count(*) AS count
       FROM events e${w.sql()} GROUP BY 1, 2`,
      w.params,
    );
    return foldSeries(rows, q.top ?? 8);
  }

  async conversations(q: EventFilter & { limit?: number }): Promise<Conversation[]> {
    const w = filterSql(q, new Where().add(`e.kind = 'message'`).add('e.peer IS NOT NULL'));
    const limit = w.p(q.limit ?? 100);
    return this.q<Conversation>(
      `SELECT e.protocol, e.app, e.account, e.peer, count(*) AS messages, count(*) FILTER (WHERE e.action = 'block') AS blocks,
              min(e.time) AS first, max(e.time) AS last
       FROM events e${w.sql()} GROUP BY e.protocol, e.app, e.account, e.peer
       ORDER BY last DESC, messages DESC, e.peer COLLATE "C", e.account COLLATE "C" NULLS FIRST LIMIT ${limit}`,
      w.params,
    );
  }

  /** Streams with a server-side cursor in one read-only snapshot: PAGE rows in memory at a time. */
  async *iterate(q: { since?: number; until?: number }): AsyncIterableIterator<EventRow> {
    const c = await this.pool.connect();
    let done = false;
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const w = filterSql(q);
      await c.query(`DECLARE imgate_iterate NO SCROLL CURSOR FOR SELECT ${EVENT_COLUMNS} FROM events e${w.sql()} ORDER BY e.seq`, w.params as unknown[]);
      for (;;) {
        const r = await c.query<RawEventRow>(`FETCH ${PAGE} FROM imgate_iterate`);
        for (const row of r.rows) yield toEventRow(row);
        if (r.rows.length < PAGE) break;
      }
      await c.query('COMMIT');
      done = true;
    } finally {
      // Also when the consumer stopped early (break / return()).
      if (!done) await c.query('ROLLBACK').catch(() => undefined);
      c.release();
    }
  }

  async count(q: EventFilter = {}): Promise<number> {
    const w = filterSql(q);
    const [r] = await this.q<{ n: number }>(`SELECT count(*) AS n FROM events e${w.sql()}`, w.params);
    return r?.n ?? 0;
  }

  async stats(): Promise<StoreStats> {
    // dbBytes: the tables' size scaled by their live share of tuples, since
    // deleted rows keep their pages until VACUUM reuses them; what retention
    // by size can actually bound.
    const [r] = await this.q<StoreStats>(`
      SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM files) AS files,
        (SELECT coalesce(sum(pg_total_relation_size(s.relid) *
           CASE WHEN s.n_live_tup + s.n_dead_tup > 0 THEN s.n_live_tup::float8 / (s.n_live_tup + s.n_dead_tup) ELSE 1 END), 0)::int8
         FROM pg_stat_user_tables s WHERE s.schemaname = current_schema() AND s.relname IN ('events', 'sessions', 'files')) AS "dbBytes"`);
    return r ?? { events: 0, sessions: 0, files: 0, dbBytes: 0 };
  }

  async deleteBefore(before: number, limit = Number.MAX_SAFE_INTEGER): Promise<{ events: number; orphanedPaths: string[] }> {
    this.writable();
    return this.tx(async (c) => {
      const d = await c.query('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < $1 LIMIT $2)', [before, limit]);
      return { events: d.rowCount ?? 0, orphanedPaths: await this.cleanup(c, before) };
    });
  }

  async deleteOldest(n: number): Promise<{ events: number; orphanedPaths: string[] }> {
    this.writable();
    return this.tx(async (c) => {
      const last = await c.query<{ t: number | null }>('SELECT max(time) AS t FROM (SELECT time FROM events ORDER BY seq LIMIT $1) o', [n]);
      const d = await c.query('DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT $1)', [n]);
      const t = last.rows[0]?.t ?? null;
      return { events: d.rowCount ?? 0, orphanedPaths: t === null ? [] : await this.cleanup(c, t + 1) };
    });
  }

  /** Sessions and files nothing refers to any more; `before` spares rows whose events are still queued (here or in another gateway). */
  private async cleanup(c: PoolClient, before: number): Promise<string[]> {
    await c.query('DELETE FROM sessions s WHERE s.last_seen < $1 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run = s.run AND e.conn = s.conn)', [before]);
    const gone = await c.query<{ stored_path: string | null }>(
      'DELETE FROM files f WHERE f.last_seen < $1 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.file_sha256 = f.sha256) RETURNING f.stored_path',
      [before],
    );
    return gone.rows.map((g) => g.stored_path).filter((p): p is string => p !== null);
  }

  async archivedBytes(): Promise<number> {
    const [r] = await this.q<{ n: number }>('SELECT coalesce(sum(size), 0) AS n FROM files WHERE stored_path IS NOT NULL');
    return r?.n ?? 0;
  }

  close(): Promise<void> {
    this.closed ??= this.pool.end();
    return this.closed;
  }
}
