// The PostgreSQL backend of the record store (audit.backend: postgres).
export { PgStore, type PgStoreOptions } from './store';
export { poolConfig, describe as describePg, type PgOpenOptions, type PgSettings } from './options';
export { ftsPhrases, ftsWords, indexText } from './fts';
export { PG_SCHEMA_VERSION } from './schema';
