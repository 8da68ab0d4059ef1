// The `audit.postgres` config block as pg Pool settings: a connection string
// or discrete fields, the password from the file when one is named, and the
// statement timeout set server-side on every connection.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { PoolConfig } from 'pg';
import type { RawConfig } from '../../config/schema';

export type PgSettings = NonNullable<RawConfig['audit']['postgres']>;

export interface PgOpenOptions {
  /** The CLI: never migrates, and every transaction is read-only. */
  readonly?: boolean;
  /** Directory relative password_file paths start from (the config file's); default cwd. */
  baseDir?: string;
  /** Shown in pg_stat_activity, so an operator can tell the fleet's connections apart. */
  applicationName?: string;
}

function readPasswordFile(file: string, baseDir: string): string {
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`audit.postgres.password_file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return (text.split(/\r?\n/, 1)[0] ?? '').trim();
}

export function poolConfig(s: PgSettings, opts: PgOpenOptions = {}): PoolConfig {
  const cfg: PoolConfig = {
    max: s.pool_max,
    connectionTimeoutMillis: s.connect_timeout_ms,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? (opts.readonly ? 'imgate-cli' : 'imgate'),
  };
  if (s.url !== undefined) cfg.connectionString = s.url;
  else {
    cfg.host = s.host;
    cfg.port = s.port;
    cfg.database = s.database;
    cfg.user = s.user;
  }
  if (s.password !== undefined) cfg.password = s.password;
  else if (s.password_file !== undefined) cfg.password = readPasswordFile(s.password_file, opts.baseDir ?? process.cwd());
  // Server-side, per connection: a runaway query is cancelled by PostgreSQL itself.
  const gucs = [`-c statement_timeout=${s.statement_timeout_ms}`];
  if (opts.readonly) gucs.push('-c default_transaction_read_only=on');
  cfg.options = gucs.join(' ');
  return cfg;
}

/** Where the store is, without the password, for logs and errors. */
export function describe(s: PgSettings): string {
  if (s.url !== undefined) {
    try {
      const u = new URL(s.url);
      u.password = '';
      return u.toString();
    } catch {
      return 'postgres (unparsable url)';
    }
  }
  return `postgresql://${s.user}@${s.host ?? ''}:${s.port}/${s.database}`;
}
