// PostgreSQL schema of the record store: the same tables and columns as the
// SQLite store (src/audit/migrations.ts), plus a tsvector column with a GIN
// index in place of FTS5. Versioned in imgate_schema: migration i brings the
// database from version i to i + 1. Append only; never edit a shipped step.
import type { PoolClient } from 'pg';

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sessions (
    run text NOT NULL,
    conn text NOT NULL,
    door text NOT NULL,
    client_ip text,
    "user" text,
    protocol text,
    app text,
    destination text,
    first_seen bigint NOT NULL,
    last_seen bigint NOT NULL,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run, conn)
  );
  CREATE INDEX sessions_last_seen ON sessions(last_seen);

  CREATE TABLE events (
    seq bigserial PRIMARY KEY,
    id text NOT NULL,
    time bigint NOT NULL,
    run text NOT NULL,
    conn text NOT NULL,
    door text NOT NULL,
    client_ip text,
    "user" text,
    groups json,
    protocol text,
    app text,
    direction text,
    account text,
    peer text,
    kind text NOT NULL,
    text text,
    file_name text,
    file_size bigint,
    file_sha256 text,
    url text,
    host text,
    method text,
    destination text,
    action text,
    rule text,
    detail json,
    -- Built from the words src/audit/pg/fts.ts extracts (never from raw text).
    fts tsvector
  );
  CREATE INDEX events_time ON events(time);
  CREATE INDEX events_user_time ON events("user", time);
  CREATE INDEX events_account ON events(account);
  CREATE INDEX events_peer ON events(peer);
  CREATE INDEX events_session ON events(run, conn);
  CREATE INDEX events_sha ON events(file_sha256) WHERE file_sha256 IS NOT NULL;
  CREATE INDEX events_fts ON events USING gin(fts);

  CREATE TABLE files (
    sha256 text PRIMARY KEY,
    name text,
    size bigint NOT NULL,
    first_seen bigint NOT NULL,
    last_seen bigint NOT NULL,
    stored_path text
  );
  `,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** pg_advisory_xact_lock key: "imgate" in ASCII, shared by every gateway on the database. */
const MIGRATION_LOCK = 0x696d67617465;

/**
 * Brings the schema to PG_SCHEMA_VERSION in one transaction. The advisory
 * lock serialises gateways starting at once: the second waits, then sees the
 * version the first wrote and has nothing to do.
 */
export async function migrate(client: PoolClient): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS imgate_schema (version integer NOT NULL)');
    const r = await client.query<{ version: number }>('SELECT version FROM imgate_schema');
    const version = r.rows[0]?.version ?? 0;
    if (version > PG_SCHEMA_VERSION) throw new Error(`audit database schema version ${version} is newer than this imgate (${PG_SCHEMA_VERSION})`);
    for (let v = version; v < PG_SCHEMA_VERSION; v++) await client.query(PG_MIGRATIONS[v] as string);
    if (r.rows.length === 0) await client.query('INSERT INTO imgate_schema (version) VALUES ($1)', [PG_SCHEMA_VERSION]);
    else if (version < PG_SCHEMA_VERSION) await client.query('UPDATE imgate_schema SET version = $1', [PG_SCHEMA_VERSION]);
    await client.query('COMMIT');
    return PG_SCHEMA_VERSION;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A reader (the CLI) never migrates: it only checks it understands the schema. */
export async function checkVersion(client: PoolClient): Promise<number> {
  const t = await client.query<{ t: string | null }>(`SELECT to_regclass('imgate_schema')::text AS t`);
  if (t.rows[0]?.t === null || t.rows[0] === undefined) throw new Error('no imgate record store in this database (has a gateway run with backend postgres?)');
  const r = await client.query<{ version: number }>('SELECT version FROM imgate_schema');
  const v = r.rows[0]?.version ?? 0;
  if (v !== PG_SCHEMA_VERSION) throw new Error(`audit schema version ${v}, this imgate reads ${PG_SCHEMA_VERSION}`);
  return v;
}
