// Turns a batch of AuditRecords into what one PgStore transaction sends:
// per-column arrays for a single INSERT ... SELECT FROM unnest(...) (27
// parameters whatever the batch size, one parse, one round trip), and the
// batch's sessions and files folded per key, because one INSERT ... ON
// CONFLICT DO UPDATE may not touch the same row twice.
import type { AuditRecord } from '../types';
import { indexText } from './fts';

/** PostgreSQL text cannot hold NUL: stored as U+2400 (SYMBOL FOR NULL), the only change PgStore makes to a value. */
export function pgText(s: string): string;
export function pgText(s: string | null | undefined): string | null;
export function pgText(s: string | null | undefined): string | null {
  if (s === null || s === undefined) return null;
  return s.indexOf('\0') === -1 ? s : s.replace(/\0/g, '\u2400');
}

export interface EventColumns {
  id: string[];
  time: number[];
  conn: string[];
  door: string[];
  client_ip: Array<string | null>;
  user: Array<string | null>;
  groups: Array<string | null>;
  protocol: Array<string | null>;
  app: Array<string | null>;
  direction: Array<string | null>;
  account: Array<string | null>;
  peer: Array<string | null>;
  kind: string[];
  text: Array<string | null>;
  file_name: Array<string | null>;
  file_size: Array<number | null>;
  file_sha256: Array<string | null>;
  url: Array<string | null>;
  host: Array<string | null>;
  method: Array<string | null>;
  destination: Array<string | null>;
  action: string[];
  rule: string[];
  detail: Array<string | null>;
  fts: Array<string | null>;
}

export interface SessionAgg {
  conn: string;
  door: string;
  client_ip: string | null;
  user: string | null;
  protocol: string | null;
  app: string | null;
  destination: string | null;
  first_seen: number;
  last_seen: number;
  events: number;
}

export interface FileAgg {
  sha256: string;
  name: string | null;
  size: number;
  first_seen: number;
  last_seen: number;
}

export interface PreparedBatch {
  events: EventColumns;
  sessions: SessionAgg[];
  files: FileAgg[];
}

const destOf = (d: { host: string; port: number } | undefined): string | null => (d ? `${d.host}:${d.port}` : null);

export function prepareBatch(records: readonly AuditRecord[]): PreparedBatch {
  const c: EventColumns = {
    id: [], time: [], conn: [], door: [], client_ip: [], user: [], groups: [], protocol: [], app: [], direction: [], account: [], peer: [],
    kind: [], text: [], file_name: [], file_size: [], file_sha256: [], url: [], host: [], method: [], destination: [], action: [], rule: [],
    detail: [], fts: [],
  };
  const sessions = new Map<string, SessionAgg>();
  const files = new Map<string, FileAgg>();
  for (const { ev, verdict, detail } of records) {
    const dest = pgText(destOf(ev.destination));
    const f = ev.file;
    const conn = pgText(ev.conn);
    const user = pgText(ev.user);
    const clientIp = pgText(ev.clientIp);
    const protocol = pgText(ev.protocol);
    const app = pgText(ev.app);
    c.id.push(pgText(ev.id));
    c.time.push(ev.time);
    c.conn.push(conn);
    c.door.push(ev.door);
    c.client_ip.push(clientIp);
    c.user.push(user);
    // json, not jsonb: kept exactly as written (jsonb would refuse \u0000 escapes).
    c.groups.push(ev.groups.length ? JSON.stringify(ev.groups) : null);
    c.protocol.push(protocol);
    c.app.push(app);
    c.direction.push(ev.direction ?? null);
    c.account.push(pgText(ev.account));
    c.peer.push(pgText(ev.peer));
    c.kind.push(ev.kind);
    c.text.push(pgText(ev.text));
    c.file_name.push(pgText(f?.name));
    c.file_size.push(f?.size ?? null);
    c.file_sha256.push(pgText(f?.sha256));
    c.url.push(pgText(ev.url));
    c.host.push(pgText(ev.host));
    c.method.push(pgText(ev.method));
    c.destination.push(dest);
    c.action.push(verdict.action);
    c.rule.push(pgText(verdict.rule));
    c.detail.push(detail && Object.keys(detail).length ? JSON.stringify(detail) : null);
    c.fts.push(indexText(ev.text));

    // Same fold as the SQLite upsert run row by row: the first event fixes
    // door, client and first_seen; later ones fill what is still unknown.
    const s = sessions.get(conn);
    if (s === undefined) {
      sessions.set(conn, { conn, door: ev.door, client_ip: clientIp, user, protocol, app, destination: dest, first_seen: ev.time, last_seen: ev.time, events: 1 });
    } else {
      s.last_seen = Math.max(s.last_seen, ev.time);
      s.events++;
      s.user ??= user;
      s.protocol ??= protocol;
      s.app ??= app;
      s.destination ??= dest;
    }
    if (f?.sha256 !== undefined) {
      const sha = pgText(f.sha256);
      const fa = files.get(sha);
      if (fa === undefined) files.set(sha, { sha256: sha, name: pgText(f.name), size: f.size ?? 0, first_seen: ev.time, last_seen: ev.time });
      else {
        fa.last_seen = Math.max(fa.last_seen, ev.time);
        fa.name ??= pgText(f.name);
      }
    }
  }
  // A fixed lock order: two gateways upserting the same files cannot deadlock.
  const fileList = [...files.values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  return { events: c, sessions: [...sessions.values()], files: fileList };
}

/** Column arrays of a list of objects, in the key order given. */
export function columnsOf<T, K extends keyof T>(rows: readonly T[], keys: readonly K[]): Array<Array<T[K]>> {
  return keys.map((k) => rows.map((r) => r[k]));
}
