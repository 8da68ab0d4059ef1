// The write side of the SQLite store, synchronous over the one write
// connection: schema migration, batch inserts (events + FTS via trigger +
// session upsert + file metadata), file registration, retention deletes.
// It runs in the writer thread (sqlite-writer-worker.ts) or, for tests and
// tools, in the calling thread behind the same interface (sqlite-writers.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import type { AuditRecord } from './types';

type Db = Database.Database;
export type Param = string | number | null;

/**
 * One event as it crosses to the writer: the 25 column values of an events
 * row in INSERT order, plain primitives only, so postMessage clones a flat
 * array instead of the nested event object.
 */
export type WireRow = Param[];

/** Column positions in a WireRow (see INSERT_EVENT). */
const C = { time: 1, run: 2, conn: 3, door: 4, clientIp: 5, user: 6, protocol: 8, app: 9, fileName: 15, fileSize: 16, sha: 17, destination: 21 } as const;

export function toWire(r: AuditRecord, run: string): WireRow {
  const { ev, verdict, detail } = r;
  const f = ev.file;
  return [
    ev.id, ev.time, run, ev.conn, ev.door, ev.clientIp ?? null, ev.user ?? null,
    ev.groups.length ? JSON.stringify(ev.groups) : null, ev.protocol ?? null, ev.app ?? null, ev.direction ?? null,
    ev.account ?? null, ev.peer ?? null, ev.kind, ev.text ?? null,
    f?.name ?? null, f?.size ?? null, f?.sha256 ?? null, ev.url ?? null, ev.host ?? null, ev.method ?? null,
    ev.destination ? `${ev.destination.host}:${ev.destination.port}` : null,
    verdict.action, verdict.rule, detail && Object.keys(detail).length ? JSON.stringify(detail) : null,
  ];
}

export interface FileReg {
  sha256: string;
  name: string | null;
  size: number;
  time: number;
  storedPath: string | null;
}

export interface Deleted {
  events: number;
  orphanedPaths: string[];
}

/** Everything the writer does, as the thread protocol names it. */
export interface WriterOps {
  write(rows: readonly WireRow[]): void;
  putFile(f: FileReg): void;
  deleteBefore(before: number, limit: number): Deleted;
  deleteOldest(n: number): Deleted;
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

export class SqliteWriter implements WriterOps {
  readonly db: Db;
  private readonly writeTx: (rows: readonly WireRow[]) => void;
  private readonly upsertFile: Database.Statement;

  constructor(readonly path: string) {
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
    this.upsertFile = this.db.prepare(
      `INSERT INTO files (sha256, name, size, first_seen, last_seen, stored_path) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (sha256) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),
         name = coalesce(name, excluded.name), stored_path = coalesce(stored_path, excluded.stored_path)`,
    );
    const upsertFile = this.upsertFile;
    this.writeTx = this.db.transaction((rows: readonly WireRow[]) => {
      for (const r of rows) {
        insertEvent.run(r);
        const t = r[C.time] as number;
        upsertSession.run(r[C.run], r[C.conn], r[C.door], r[C.clientIp], r[C.user], r[C.protocol], r[C.app], r[C.destination], t, t);
        const sha = r[C.sha];
        if (sha !== null && sha !== undefined) upsertFile.run(sha, r[C.fileName], r[C.fileSize] ?? 0, t, t, null);
      }
    });
  }

  write(rows: readonly WireRow[]): void {
    if (rows.length) this.writeTx(rows);
  }

  putFile(f: FileReg): void {
    this.upsertFile.run(f.sha256, f.name, f.size, f.time, f.time, f.storedPath);
  }

  deleteBefore(before: number, limit: number): Deleted {
    return this.db.transaction(() => {
      const events = this.db.prepare('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ? LIMIT ?)').run(before, limit).changes;
      return { events, orphanedPaths: this.cleanup(before) };
    })();
  }

  deleteOldest(n: number): Deleted {
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

  close(): void {
    if (this.db.open) this.db.close();
  }
}
