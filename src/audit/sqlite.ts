// The embedded store: one SQLite file in WAL mode. Writes go to a writer
// (a worker thread in the gateway, see sqlite-writers.ts), queries run on a
// read-only connection in the calling thread: WAL lets readers and the one
// writer work at once, and `imgate search` can read beside a live gateway.
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Logger } from '../log';
import { SCHEMA_VERSION } from './migrations';
import { SqliteReader } from './sqlite-read';
import { SqliteWriter } from './sqlite-write';
import { BATCH_BYTES, WireBuilder } from './sqlite-wire';
import { compiledWorkerFile, defaultSpawn, InlineWriter, ThreadWriter, type SpawnWriter, type WriterBackend } from './sqlite-writers';
import type {
  ArchivedFile,
  AuditRecord,
  Conversation,
  EventFilter,
  EventRow,
  FileQuery,
  FileRow,
  PendingBatch,
  Report,
  SearchQuery,
  SeriesPoint,
  SeriesQuery,
  Store,
  StoreStats,
} from './types';

export interface SqliteOptions {
  /** Queries only (the CLI): no writer, the file must exist with this imgate's schema. */
  readonly?: boolean;
  /**
   * Where writes run. 'thread' (the gateway) needs the compiled worker; from
   * TypeScript sources it falls back to 'inline' unless `spawn` is given.
   */
  writer?: 'thread' | 'inline';
  /** Starts a writer thread (tests run the worker from source this way). */
  spawn?: SpawnWriter;
  /** Writer thread crashes and restarts are logged here. */
  logger?: Logger;
}

/** Committed batches whose memory is kept for reuse: one being filled while one is written, plus one. */
const SPARE_BATCHES = 2;
/**
 * Every batch buffer has this size (the byte bound, and room for the event
 * that crosses it), so a committed batch's buffer always fits the next one:
 * after the first few batches no new memory is faulted in. Pages never
 * written stay unbacked, so small events do not pay for the size.
 */
const BATCH_SPACE = BATCH_BYTES + 256 * 1024;

const noLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;

export class SqliteStore implements Store {
  /** Distinguishes connection ids of different gateway runs (they restart at 1). */
  readonly run = randomBytes(4).toString('hex');
  private readonly q: SqliteReader;
  /** Memory of committed batches, for the next ones. */
  private readonly spare: SharedArrayBuffer[] = [];

  private constructor(
    readonly path: string,
    /** The query connection (read-only). */
    readonly db: Database.Database,
    private readonly writer: WriterBackend | null,
    /** Where writes run: 'thread', 'inline', or null when read-only. */
    readonly writerKind: 'thread' | 'inline' | null,
  ) {
    this.q = new SqliteReader(db);
  }

  static async open(path: string, opts: SqliteOptions = {}): Promise<SqliteStore> {
    if (opts.readonly) return new SqliteStore(path, openReader(path), null, null);
    // The writer opens first: it creates the file and migrates the schema the reader then checks.
    const spawn = opts.spawn ?? (opts.writer === 'inline' ? null : spawnFromDist());
    const writer: WriterBackend = spawn ? await ThreadWriter.start(path, spawn, opts.logger ?? noLog) : new InlineWriter(new SqliteWriter(path));
    try {
      return new SqliteStore(path, openReader(path), writer, spawn ? 'thread' : 'inline');
    } catch (err) {
      await writer.close();
      throw err;
    }
  }

  private w(): WriterBackend {
    if (this.writer === null) throw new Error('audit store opened read-only');
    return this.writer;
  }

  /** The writer thread, for tests of its crash/restart path (null when writes run inline). */
  get thread(): ThreadWriter | null {
    return this.writer instanceof ThreadWriter ? this.writer : null;
  }

  async writeBatch(records: readonly AuditRecord[]): Promise<void> {
    const w = this.w();
    if (records.length === 0) return;
    const b = new WireBuilder(this.run);
    for (const r of records) b.add(r);
    await w.write(b.seal());
  }

  /** The queue's batches: events encoded as they are recorded (sqlite-wire.ts says why). */
  newBatch(): PendingBatch {
    const w = this.w();
    const b = new WireBuilder(this.run, this.spare.pop() ?? BATCH_SPACE);
    return {
      get count() {
        return b.count;
      },
      get full() {
        return b.full;
      },
      get bytes() {
        return b.bytes;
      },
      add: (r) => b.add(r),
      write: async () => {
        await w.write(b.seal());
        // Committed: the thread has finished reading it (it answers after the transaction).
        // A buffer grown for one huge event is let go: only the standard size is kept.
        if (this.spare.length < SPARE_BATCHES && b.space.byteLength === BATCH_SPACE) this.spare.push(b.space);
      },
    };
  }

  async putFile(f: { sha256: string; name: string | null; size: number; time: number; storedPath: string | null }): Promise<void> {
    await this.w().putFile(f);
  }

  async search(q: SearchQuery): Promise<EventRow[]> {
    return this.q.search(q);
  }

  async files(q: FileQuery): Promise<FileRow[]> {
    return this.q.files(q);
  }

  async file(sha256: string): Promise<ArchivedFile | null> {
    return this.q.file(sha256);
  }

  async report(q: { since?: number; until?: number; topPeers?: number }): Promise<Report> {
    return this.q.report(q);
  }

  async series(q: SeriesQuery): Promise<SeriesPoint[]> {
    return this.q.series(q);
  }

  async conversations(q: EventFilter & { limit?: number }): Promise<Conversation[]> {
    return this.q.conversations(q);
  }

  async *iterate(q: { since?: number; until?: number }): AsyncIterableIterator<EventRow> {
    // Paged by seq: no statement stays open across the consumer's awaits.
    let after = 0;
    for (;;) {
      const page = this.q.page(q, after);
      for (const r of page) yield r;
      if (page.length === 0) return;
      after = (page[page.length - 1] as EventRow).seq;
    }
  }

  async count(q: EventFilter = {}): Promise<number> {
    return this.q.count(q);
  }

  async stats(): Promise<StoreStats> {
    return this.q.stats();
  }

  async deleteBefore(before: number, limit = Number.MAX_SAFE_INTEGER): Promise<{ events: number; orphanedPaths: string[] }> {
    return this.w().deleteBefore(before, limit);
  }

  async deleteOldest(n: number): Promise<{ events: number; orphanedPaths: string[] }> {
    return this.w().deleteOldest(n);
  }

  async archivedBytes(): Promise<number> {
    return this.q.archivedBytes();
  }

  /** Waits for the writer to commit what it was sent, then closes both connections. */
  async close(): Promise<void> {
    try {
      await this.writer?.close();
    } finally {
      if (this.db.open) this.db.close();
    }
  }
}

function openReader(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v !== SCHEMA_VERSION) throw new Error(`${path}: audit schema version ${v}, this imgate reads ${SCHEMA_VERSION}`);
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function spawnFromDist(): SpawnWriter | null {
  const f = compiledWorkerFile();
  return f === null ? null : defaultSpawn(f);
}
