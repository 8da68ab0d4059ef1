// Opens the record store named by the config: the one place a backend is
// chosen, used by the gateway (createAudit) and the CLI alike.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { PgStore } from './pg';
import { SqliteStore } from './sqlite';
import type { Store } from './types';

export type AuditConfig = Pick<Config, 'dataDir' | 'audit'>;

export interface OpenOptions {
  /** Queries only (the CLI): nothing is created or migrated. */
  readonly: boolean;
  /** Writer-thread crashes and restarts (gateway). */
  logger?: Logger;
}

/** The store is missing (read-only open of a store that was never written). */
export class NoStoreError extends Error {}

export function dbPath(config: AuditConfig): string {
  return resolve(config.dataDir, config.audit.db_file);
}

/**
 * The configured backend. `audit.backend` is read defensively: the key is
 * added to the schema with the PostgreSQL backend; absent means 'sqlite'.
 */
export function backendOf(config: AuditConfig): string {
  const b = (config.audit as { backend?: unknown }).backend;
  return typeof b === 'string' ? b : 'sqlite';
}

export async function openStore(config: AuditConfig, opts: OpenOptions): Promise<Store> {
  const backend = backendOf(config);
  switch (backend) {
    case 'postgres': {
      const pg = config.audit.postgres;
      if (pg === undefined) throw new Error('audit.backend postgres: the audit.postgres block is missing');
      const base = (config as { configFile?: string | null }).configFile;
      return PgStore.open(pg, {
        readonly: opts.readonly,
        ...(base ? { baseDir: dirname(base) } : {}),
        ...(opts.logger ? { onPoolError: (err: Error) => opts.logger?.warn({ err: err.message }, 'audit store: postgres connection error') } : {}),
      });
    }
    case 'sqlite': {
      const path = dbPath(config);
      if (opts.readonly && !existsSync(path)) throw new NoStoreError(`no record store at ${path} (has the gateway run with audit enabled? is --config right?)`);
      // IMGATE_AUDIT_WRITER=inline (diagnostics, the bench's before/after): writes on the main thread.
      const writer = process.env.IMGATE_AUDIT_WRITER === 'inline' ? 'inline' : 'thread';
      return SqliteStore.open(path, opts.readonly ? { readonly: true } : { writer, ...(opts.logger ? { logger: opts.logger } : {}) });
    }
    default:
      throw new Error(`audit.backend "${backend}" is not supported (expected sqlite or postgres)`);
  }
}
