// Where the SQLite writes run, behind one asynchronous interface:
//  - ThreadWriter: a worker thread holds the write connection (the gateway),
//    so batch inserts never block the event loop;
//  - InlineWriter: the same SqliteWriter in the calling thread (tests, tools,
//    and running from TypeScript sources where the compiled worker is absent).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log';
import { SqliteWriter, type Deleted, type FileReg } from './sqlite-write';
import type { WireBatch } from './sqlite-wire';
import type { WriterOp, WriterReply, WriterRequest } from './sqlite-writer-protocol';

export interface WriterBackend {
  /** Writes one encoded batch in one transaction. */
  write(batch: WireBatch): Promise<void>;
  putFile(f: FileReg): Promise<void>;
  deleteBefore(before: number, limit: number): Promise<Deleted>;
  deleteOldest(n: number): Promise<Deleted>;
  /** Resolves once everything sent before it is committed and the connection is closed. */
  close(): Promise<void>;
}

export class InlineWriter implements WriterBackend {
  constructor(private readonly w: SqliteWriter) {}
  async write(batch: WireBatch): Promise<void> {
    this.w.write(batch);
  }
  async putFile(f: FileReg): Promise<void> {
    this.w.putFile(f);
  }
  async deleteBefore(before: number, limit: number): Promise<Deleted> {
    return this.w.deleteBefore(before, limit);
  }
  async deleteOldest(n: number): Promise<Deleted> {
    return this.w.deleteOldest(n);
  }
  async close(): Promise<void> {
    this.w.close();
  }
}

/** Starts one writer thread for `path` (the store may need to start another after a crash). */
export type SpawnWriter = (path: string) => Worker;

/** The compiled worker beside this file, or null when running from .ts sources (ts-jest). */
export function compiledWorkerFile(): string | null {
  const f = join(__dirname, 'sqlite-writer-worker.js');
  return __filename.endsWith('.js') && existsSync(f) ? f : null;
}

export function defaultSpawn(file: string): SpawnWriter {
  return (path) => new Worker(file, { workerData: { path } });
}

interface Pending {
  resolve(v: Deleted | null): void;
  reject(e: Error): void;
}

/** A crash right after a restart waits this long before the next start, so a broken file cannot spin. */
const RESTART_BACKOFF_MS = 1000;

export class ThreadWriter implements WriterBackend {
  private worker!: Worker;
  private ready!: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  private lastStart = 0;
  private exited: Promise<void> = Promise.resolve();
  /** A thread that has not answered 'ready' yet keeps the process alive (its open may fail). */
  private starting = false;

  private constructor(
    private readonly path: string,
    private readonly spawn: SpawnWriter,
    private readonly logger: Logger,
  ) {}

  /** Starts the thread and waits until it has opened (and migrated) the database; an open error rejects. */
  static async start(path: string, spawn: SpawnWriter, logger: Logger): Promise<ThreadWriter> {
    const t = new ThreadWriter(path, spawn, logger);
    t.startWorker();
    try {
      await t.ready;
    } catch (err) {
      t.closing = true; // no restart: the database cannot be opened
      throw err;
    }
    return t;
  }

  private startWorker(): void {
    this.lastStart = Date.now();
    this.starting = true;
    const w = this.spawn(this.path);
    this.worker = w;
    let exit!: () => void;
    this.exited = new Promise((res) => (exit = res));
    this.ready = new Promise<void>((resolve, reject) => {
      w.on('message', (m: WriterReply) => {
        if ('ready' in m || 'fatal' in m) {
          this.starting = false;
          this.refCount();
          return 'ready' in m ? resolve() : reject(new Error(m.fatal));
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        this.refCount();
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
      });
      w.on('error', (err) => {
        // An uncaught exception in the thread; 'exit' follows.
        this.logger.error({ err: err.message }, 'audit writer thread failed');
        reject(err);
      });
      w.on('exit', (code) => {
        exit();
        if (this.worker === w) this.starting = false;
        reject(new Error(`audit writer thread exited (code ${code}) before it was ready`));
        if (this.worker !== w) return;
        this.failPending(new Error(`audit writer thread exited (code ${code})`));
        if (this.closing) return;
        this.logger.error({ code }, 'audit writer thread exited: restarting it');
        const wait = Date.now() - this.lastStart < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0;
        // Requests made meanwhile wait for the new thread (never posted to the dead one).
        this.ready = (async () => {
          await new Promise((res) => setTimeout(res, wait));
          if (this.closing) throw new Error('audit writer closed');
          this.startWorker();
          await this.ready;
        })();
        this.ready.catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'audit writer thread restart failed'));
      });
    });
    // A rejected `ready` is observed by the next request; avoid an unhandled rejection meanwhile.
    this.ready.catch(() => undefined);
    this.refCount();
  }

  /** The in-flight requests of a dead thread fail; the queue retries its batch. */
  private failPending(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
    this.refCount();
  }

  /** The thread keeps the process alive only while it owes an answer (or is starting or closing): an idle gateway can still exit. */
  private refCount(): void {
    if (this.pending.size > 0 || this.starting || this.closing) this.worker.ref();
    else this.worker.unref();
  }

  private async request(op: WriterOp, args: unknown): Promise<Deleted | null> {
    if (this.closing && op !== 'close') throw new Error('audit writer closed');
    await this.ready;
    if (this.closing && op !== 'close') throw new Error('audit writer closed');
    const id = this.nextId++;
    const w = this.worker;
    return new Promise<Deleted | null>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.refCount();
      w.postMessage({ id, op, args } satisfies WriterRequest);
    });
  }

  /** The batch's SharedArrayBuffer is shared with the thread, not copied; it stays valid for a retry if the thread dies. */
  async write(batch: WireBatch): Promise<void> {
    if (batch.count) await this.request('write', batch);
  }

  async putFile(f: FileReg): Promise<void> {
    await this.request('putFile', f);
  }

  async deleteBefore(before: number, limit: number): Promise<Deleted> {
    return (await this.request('deleteBefore', [before, limit])) as Deleted;
  }

  async deleteOldest(n: number): Promise<Deleted> {
    return (await this.request('deleteOldest', n)) as Deleted;
  }

  /** Makes the thread throw (tests of the restart path); requests sent after it fail and are retried by their callers. */
  crashForTest(): void {
    void this.request('crash', null).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closing) return this.exited;
    // Requests are answered in order, so the close answer comes after every commit sent before it.
    const done = this.request('close', null);
    this.closing = true;
    this.refCount(); // until its 'exit': close() resolves only once the thread is gone
    try {
      await done;
    } catch {
      // The thread died meanwhile: nothing more to commit.
    }
    await this.exited;
  }
}
