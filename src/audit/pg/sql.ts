// SQL text shared by the PgStore queries: the column list, the WHERE clauses
// every query shares (same meaning as the SQLite store's filterSql), and the
// split keys of reports and series. Values always travel as $n parameters.
import type { EventFilter, SeriesKey } from '../types';

export type Param = string | number | null | readonly string[];

/** Collects WHERE clauses and their positional parameters. */
export class Where {
  readonly clauses: string[] = [];
  readonly params: Param[] = [];

  /** Adds a parameter; returns its placeholder. */
  p(v: Param): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }

  add(clause: string): this {
    this.clauses.push(clause);
    return this;
  }

  sql(): string {
    return this.clauses.length ? ` WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

/** Every stored column of events except the search vector, aliased `e`, in EventRow order. */
export const EVENT_COLUMNS =
  'e.seq, e.id, e.time, e.run, e.conn, e.door, e.client_ip, e."user", e.groups, e.protocol, e.app, e.direction, e.account, e.peer, ' +
  'e.kind, e.text, e.file_name, e.file_size, e.file_sha256, e.url, e.host, e.method, e.destination, e.action, e.rule, e.detail';

export interface Filter extends EventFilter {
  kind?: string;
  action?: string;
  afterSeq?: number;
}

export function filterSql(f: Filter, w: Where = new Where()): Where {
  if (f.user !== undefined) w.add(`e."user" = ${w.p(f.user)}`);
  if (f.account !== undefined) {
    const a = w.p(f.account);
    w.add(`(e.account = ${a} OR e.peer = ${a})`);
  }
  if (f.peer !== undefined) w.add(`e.peer = ${w.p(f.peer)}`);
  if (f.protocol !== undefined) {
    const p = w.p(f.protocol);
    w.add(`(e.protocol = ${p} OR e.app = ${p})`);
  }
  if (f.kind !== undefined) w.add(`e.kind = ${w.p(f.kind)}`);
  if (f.action !== undefined) w.add(`e.action = ${w.p(f.action)}`);
  if (f.since !== undefined) w.add(`e.time >= ${w.p(f.since)}`);
  if (f.until !== undefined) w.add(`e.time < ${w.p(f.until)}`);
  if (f.afterSeq !== undefined) w.add(`e.seq > ${w.p(f.afterSeq)}`);
  return w;
}

/** The report's per-user key: who, or at least from where. */
export const USER_KEY = `coalesce(e."user", e.client_ip, '(unknown)')`;
/** The report's per-protocol key: protocol, and the app when there is one. */
export const PROTOCOL_APP_KEY = `coalesce(e.protocol, 'unknown') || coalesce('/' || e.app, '')`;

/** The split key of a usage series (see SeriesPoint). */
export function seriesKey(by: SeriesKey): string {
  switch (by) {
    case 'protocol':
      return `coalesce(e.protocol, 'unknown')`;
    case 'app':
      return PROTOCOL_APP_KEY;
    case 'user':
      return USER_KEY;
    case 'action':
      return `coalesce(e.action, '(none)')`;
    case 'kind':
      return 'e.kind';
  }
}
