// The pure parts of the PostgreSQL store: the words FTS indexes and searches
// (same meaning as FTS5 unicode61 + ftsQuery), the batch fold for one-statement
// upserts, the series fold, pool settings, and the audit config block.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareBatch, pgText } from '../../../src/audit/pg/batch';
import { ftsPhrases, ftsWords, indexText, MAX_INDEXED_CHARS } from '../../../src/audit/pg/fts';
import { describe as describePg, poolConfig, type PgSettings } from '../../../src/audit/pg/options';
import { foldSeries } from '../../../src/audit/pg/series';
import { filterSql } from '../../../src/audit/pg/sql';
import type { AuditRecord } from '../../../src/audit/types';
import { configSchema } from '../../../src/config/schema';

const base: PgSettings = { port: 5432, database: 'imgate', user: 'imgate', pool_max: 10, statement_timeout_ms: 30000, connect_timeout_ms: 10000 };

describe('pg fts words', () => {
  test('letters and digits, lowercased, diacritics removed', () => {
    expect(ftsWords('Hello, Wörld! Café-au-lait 42x')).toBe('hello world cafe au lait 42x');
    expect(ftsWords('bob@example.org')).toBe('bob example org');
    expect(ftsWords('" OR * NEAR( -')).toBe('or near');
    expect(ftsWords('日本語 テキスト')).toBe('日本語 テキスト');
    expect(indexText(undefined)).toBeNull();
    expect(indexText('*** ---')).toBeNull();
  });

  test('pieces without a letter or digit are left out; none left is null', () => {
    expect(ftsPhrases('" OR * NEAR( -')).toEqual(['or', 'near']);
    expect(ftsPhrases('foo-bar baz')).toEqual(['foo bar', 'baz']);
    expect(ftsPhrases('* " ( -')).toBeNull();
    expect(ftsPhrases("'; DROP TABLE events; --")).toEqual(['drop', 'table', 'events']);
  });

  test('huge texts are indexed up to the bound, never beyond', () => {
    const w = ftsWords('word '.repeat(100_000));
    expect(w.length).toBeLessThanOrEqual(MAX_INDEXED_CHARS);
    expect(w.startsWith('word word')).toBe(true);
  });
});

describe('pg batch fold', () => {
  const rec = (time: number, conn: string, extra: Partial<AuditRecord['ev']> = {}): AuditRecord => ({
    ev: { id: `e${time}`, time, conn, door: 'socks5', groups: [], kind: 'message', ...extra },
    verdict: { action: 'allow', rule: 'default' },
  });

  test('one session row per connection, first event fixes it, later ones fill unknowns', () => {
    const b = prepareBatch([rec(5, '1'), rec(9, '1', { user: 'alice', protocol: 'irc' }), rec(7, '1', { user: 'bob' }), rec(6, '2')]);
    expect(b.sessions).toEqual([
      { conn: '1', door: 'socks5', client_ip: null, user: 'alice', protocol: 'irc', app: null, destination: null, first_seen: 5, last_seen: 9, events: 3 },
      { conn: '2', door: 'socks5', client_ip: null, user: null, protocol: null, app: null, destination: null, first_seen: 6, last_seen: 6, events: 1 },
    ]);
    expect(b.events.time).toEqual([5, 9, 7, 6]);
  });

  test('files folded per sha256 in a fixed order; NUL never reaches PostgreSQL', () => {
    const b = prepareBatch([
      rec(1, '1', { kind: 'file', file: { sha256: 'bb', size: 3 } }),
      rec(2, '1', { kind: 'file', file: { sha256: 'aa', name: 'a\0b.txt', size: 4 } }),
      rec(3, '1', { kind: 'file', file: { sha256: 'bb', name: 'late.txt', size: 3 } }),
    ]);
    expect(b.files).toEqual([
      { sha256: 'aa', name: 'a\u2400b.txt', size: 4, first_seen: 2, last_seen: 2 },
      { sha256: 'bb', name: 'late.txt', size: 3, first_seen: 1, last_seen: 3 },
    ]);
    expect(b.events.file_name).toEqual([null, 'a\u2400b.txt', 'late.txt']);
    expect(pgText('plain')).toBe('plain');
  });
});

describe('pg series fold', () => {
  test('top keys by total, the rest under (other), by bucket then rank', () => {
    const pts = [
      { t: 0, key: 'a', count: 5 }, { t: 0, key: 'b', count: 1 }, { t: 0, key: 'c', count: 2 },
      { t: 60, key: 'b', count: 1 }, { t: 60, key: 'c', count: 2 },
    ];
    expect(foldSeries(pts, 2)).toEqual([
      { t: 0, key: 'a', count: 5 }, { t: 0, key: 'c', count: 2 }, { t: 0, key: '(other)', count: 1 },
      { t: 60, key: 'c', count: 2 }, { t: 60, key: '(other)', count: 1 },
    ]);
  });
});

describe('pg filters and pool settings', () => {
  test('every filter is a parameter', () => {
    const w = filterSql({ user: "x' OR 1=1", account: 'a', peer: 'p', protocol: 'irc', action: 'block', since: 1, until: 2, afterSeq: 3 });
    expect(w.sql()).not.toContain("x'");
    expect(w.params).toEqual(["x' OR 1=1", 'a', 'p', 'irc', 'block', 1, 2, 3]);
  });

  test('url or discrete fields; password file read from the config directory; read-only GUC', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgate-pgopt-'));
    try {
      fs.writeFileSync(path.join(dir, 'pw'), 's3cret\nignored\n');
      const c = poolConfig({ ...base, host: '127.0.0.1', password_file: 'pw' }, { baseDir: dir, readonly: true });
      expect(c).toMatchObject({ host: '127.0.0.1', port: 5432, database: 'imgate', user: 'imgate', password: 's3cret', max: 10 });
      expect(c.options).toBe('-c statement_timeout=30000 -c default_transaction_read_only=on');
      expect(() => poolConfig({ ...base, host: 'h', password_file: 'missing' }, { baseDir: dir })).toThrow(/audit\.postgres\.password_file/);
      expect(poolConfig({ ...base, url: 'postgresql://u:p@127.0.0.1:5433/d' }).connectionString).toBe('postgresql://u:p@127.0.0.1:5433/d');
      expect(describePg({ ...base, url: 'postgresql://u:p@127.0.0.1:5433/d' })).not.toContain(':p@');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit config: backend and postgres block', () => {
  const parse = (audit: unknown) => configSchema.safeParse({ audit });
  test('default sqlite; postgres with a url', () => {
    const d = parse({});
    expect(d.success && d.data.audit.backend).toBe('sqlite');
    const p = parse({ backend: 'postgres', postgres: { url: 'postgresql://imgate@127.0.0.1:5432/imgate' } });
    expect(p.success && p.data.audit.postgres).toMatchObject({ pool_max: 10, statement_timeout_ms: 30000 });
  });

  test('errors name the key', () => {
    const issues = (audit: unknown): Array<[string, string]> => {
      const r = parse(audit);
      return r.success ? [] : r.error.issues.map((i) => [i.path.join('.'), i.message]);
    };
    expect(issues({ backend: 'mysql' })).toEqual([['audit.backend', 'expected one of sqlite, postgres']]);
    expect(issues({ backend: 'postgres' })).toEqual([['audit.postgres', 'backend postgres needs postgres.url or postgres.host']]);
    expect(issues({ backend: 'postgres', postgres: { url: 'mysql://x' } })[0]?.[0]).toBe('audit.postgres.url');
    expect(issues({ backend: 'postgres', postgres: { url: 'postgres://x/y', host: 'h' } })).toEqual([['audit.postgres.host', 'expected at most one of url or host']]);
    expect(issues({ backend: 'postgres', postgres: { host: 'h', password: 'a', password_file: 'b' } })).toEqual([['audit.postgres.password_file', 'expected at most one of password or password_file']]);
    expect(issues({ backend: 'postgres', postgres: { host: 'h', pool_max: 0 } })[0]?.[0]).toBe('audit.postgres.pool_max');
    expect(issues({ backend: 'postgres', postgres: { host: 'h', statment_timeout_ms: 5 } })[0]?.[0]).toBe('audit.postgres');
  });
});
