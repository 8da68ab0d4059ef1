// The record store as the gateway uses it: open the store, put a queue in
// front, keep the file archive, run retention at start and on a schedule.
// The backend is chosen by openStore (open.ts), shared with the CLI.
import { join } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { FileArchive, type ArchiveResult, type FileMeta } from './archive';
import { AuditQueue, type QueueMetrics } from './queue';
import { enforceRetention, type RetentionResult, type RetentionSettings } from './retention';
import { backendOf, openStore, type AuditConfig } from './open';
import { SqliteStore } from './sqlite';
import type { AuditSink, Store } from './types';
import type { Readable } from 'node:stream';

export { FileArchive, type ArchiveResult, type FileMeta } from './archive';
export { AuditQueue, type QueueMetrics, type QueueSettings } from './queue';
export { enforceRetention, type RetentionSettings } from './retention';
export { SqliteStore } from './sqlite';
export { openStore, dbPath, backendOf, NoStoreError } from './open';
export { ftsQuery } from './fts';
export { parseTime } from './time';
export type * from './types';

export interface Audit {
  readonly sink: AuditSink;
  readonly queue: AuditQueue;
  readonly store: Store;
  readonly archive: FileArchive;
  /** Archives content the gateway holds (web uploads, AV spool); see FileArchive. */
  archiveFile(content: Buffer | Readable, meta?: FileMeta): ArchiveResult | Promise<ArchiveResult>;
  retention(): Promise<RetentionResult>;
  /** Writes the whole queue, waits for file writes, closes the database. */
  close(): Promise<void>;
}

export function retentionSettings(config: Pick<Config, 'audit'>): RetentionSettings {
  return { retentionDays: config.audit.retention_days, maxDbBytes: config.audit.max_db_bytes };
}

export async function createAudit(config: AuditConfig, deps: { logger: Logger; metrics: QueueMetrics }): Promise<Audit> {
  const a = config.audit;
  const log = deps.logger;
  const store = await openStore(config, { readonly: false, logger: log });
  let archive: FileArchive;
  try {
    archive = await FileArchive.open(config.dataDir, store, { enabled: a.files.enabled, maxFileBytes: a.files.max_file_bytes, maxTotalBytes: a.files.max_total_bytes }, log);
  } catch (err) {
    await store.close();
    throw err;
  }
  const queue = new AuditQueue(store, { queueMax: a.queue_max, batchMax: a.batch_max, flushIntervalMs: a.flush_interval_ms, maxBytes: a.queue_max_bytes }, deps.metrics, log);
  const rs = retentionSettings(config);
  let running: Promise<RetentionResult> | null = null;
  const retention = (): Promise<RetentionResult> => {
    running ??= enforceRetention(store, archive, rs)
      .then((r) => {
        if (r.byAge || r.bySize) log.info({ byAge: r.byAge, bySize: r.bySize }, 'audit retention: events deleted');
        return r;
      })
      .catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'audit retention failed');
        return { byAge: 0, bySize: 0 };
      })
      .finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void retention(), a.retention_interval_ms);
  timer.unref();
  void retention();
  const where = store instanceof SqliteStore ? { db: store.path, writer: store.writerKind } : {};
  log.info({ backend: backendOf(config), ...where, files: join(config.dataDir, 'files') }, 'audit store open');
  let closing: Promise<void> | null = null;
  return {
    sink: queue,
    queue,
    store,
    archive,
    archiveFile: (content, meta) => (Buffer.isBuffer(content) ? archive.putBuffer(content, meta) : archive.putStream(content, meta)),
    retention,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(timer);
        if (running) await running;
        await archive.settle();
        await queue.close();
        log.info({ written: queue.written, dropped: queue.dropped }, 'audit store closed');
        await store.close();
      })();
      return closing;
    },
  };
}
