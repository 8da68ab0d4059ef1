// `imgate search | files | report | export`: read-only views of the record
// store. The database is opened read-only (WAL lets this run beside a live
// gateway); human tables by default, JSON with --json.
import type { Config } from '../config/load';
import { NoStoreError, openStore } from './open';
import { parseSyslogTarget, sendSyslog, syslogLine } from './syslog';
import { clean, isoTime, table } from './table';
import { parseTime } from './time';
import type { EventRow, Report, ReportLine, Store } from './types';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export interface SearchOpts {
  user?: string;
  account?: string;
  protocol?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

export interface FilesOpts {
  since?: string;
  until?: string;
  name?: string;
  limit?: string;
  json?: boolean;
}

export interface ReportOpts {
  since?: string;
  until?: string;
  top?: string;
  json?: boolean;
}

export interface ExportOpts {
  since?: string;
  until?: string;
  format?: string;
  syslog?: string;
}

/** Usage errors exit 2, a missing store 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** The configured store, read-only; a missing store is a CliError (exit 1). */
export async function openCliStore(config: Pick<Config, 'dataDir' | 'audit'>): Promise<Store> {
  try {
    return await openStore(config, { readonly: true });
  } catch (err) {
    if (err instanceof NoStoreError) throw new CliError(err.message, 1);
    throw err;
  }
}

function times(o: { since?: string; until?: string }): { since?: number; until?: number } {
  const r: { since?: number; until?: number } = {};
  try {
    if (o.since !== undefined) r.since = parseTime(o.since);
    if (o.until !== undefined) r.until = parseTime(o.until);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  return r;
}

function limitOf(s: string | undefined, def: number): number {
  if (s === undefined) return def;
  if (!/^\d{1,7}$/.test(s) || Number(s) < 1) throw new CliError(`bad --limit "${s}": expected a positive integer`, 2);
  return Number(s);
}

/** The JSON form of a row: nulls and empty lists left out. */
export function eventJson(e: EventRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (v === null || (Array.isArray(v) && v.length === 0)) continue;
    o[k] = v;
  }
  o.time = new Date(e.time).toISOString();
  return o;
}

async function withStore<T>(config: Pick<Config, 'dataDir' | 'audit'>, f: (s: Store) => Promise<T>): Promise<T> {
  const store = await openCliStore(config);
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

export async function runSearch(config: Pick<Config, 'dataDir' | 'audit'>, text: string, o: SearchOpts, io: Io): Promise<void> {
  const q = { ...times(o), text, limit: limitOf(o.limit, 100) };
  if (o.user !== undefined) Object.assign(q, { user: o.user });
  if (o.account !== undefined) Object.assign(q, { account: o.account });
  if (o.protocol !== undefined) Object.assign(q, { protocol: o.protocol });
  const rows = await withStore(config, (s) => s.search(q));
  if (o.json) {
    for (const r of rows) io.out(`${JSON.stringify(eventJson(r))}\n`);
    return;
  }
  io.out(
    table(
      ['TIME', 'USER', 'PROTOCOL', 'DIR', 'ACCOUNT', 'PEER', 'KIND', 'ACTION', 'RULE', 'TEXT'],
      rows.map((r) => [
        isoTime(r.time), clean(r.user ?? r.client_ip, 20), clean(r.app ? `${r.protocol}/${r.app}` : r.protocol, 20), clean(r.direction),
        clean(r.account, 30), clean(r.peer, 30), r.kind, clean(r.action), clean(r.rule, 24), clean(r.text ?? r.file_name ?? r.url, 80),
      ]),
    ),
  );
  io.out(`${rows.length} event(s)\n`);
}

export async function runFiles(config: Pick<Config, 'dataDir' | 'audit'>, o: FilesOpts, io: Io): Promise<void> {
  const q = { ...times(o), limit: limitOf(o.limit, 1000) };
  if (o.name !== undefined) Object.assign(q, { name: o.name });
  const rows = await withStore(config, (s) => s.files(q));
  if (o.json) {
    for (const r of rows) io.out(`${JSON.stringify({ ...r, time: new Date(r.time).toISOString() })}\n`);
    return;
  }
  io.out(
    table(
      ['TIME', 'USER', 'PROTOCOL', 'ACCOUNT', 'PEER', 'NAME', 'SIZE', 'SHA256', 'ACTION', 'ARCHIVED'],
      rows.map((r) => [
        isoTime(r.time), clean(r.user, 20), clean(r.app ? `${r.protocol}/${r.app}` : r.protocol, 20), clean(r.account, 30), clean(r.peer, 30),
        clean(r.name, 40), clean(r.size), clean(r.sha256?.slice(0, 16)), clean(r.action), clean(r.stored_path ?? ''),
      ]),
    ),
  );
  io.out(`${rows.length} file(s)\n`);
}

function reportTable(title: string, lines: readonly ReportLine[]): string {
  return table(
    [title, 'EVENTS', 'MESSAGES', 'FILES', 'BLOCKS', 'TOP PEERS'],
    lines.map((l) => [clean(l.key, 40), String(l.events), String(l.messages), String(l.files), String(l.blocks), clean(l.top_peers.map((p) => `${p.peer} (${p.count})`).join(', '), 100)]),
  );
}

export async function runReport(config: Pick<Config, 'dataDir' | 'audit'>, o: ReportOpts, io: Io): Promise<Report> {
  const r = await withStore(config, (s) => s.report({ ...times(o), topPeers: limitOf(o.top, 3) }));
  if (o.json) {
    io.out(`${JSON.stringify({ ...r, since: r.since === null ? null : new Date(r.since).toISOString(), until: r.until === null ? null : new Date(r.until).toISOString() })}\n`);
    return r;
  }
  const span = `${r.since === null ? 'the beginning' : isoTime(r.since)} to ${r.until === null ? 'now' : isoTime(r.until)}`;
  io.out(`From ${span}: ${r.total.events} events, ${r.total.messages} messages, ${r.total.files} files, ${r.total.blocks} blocked\n\n`);
  io.out(reportTable('USER', r.by_user));
  io.out('\n');
  io.out(reportTable('PROTOCOL/APP', r.by_protocol));
  return r;
}

export async function runExport(config: Pick<Config, 'dataDir' | 'audit'>, o: ExportOpts, io: Io): Promise<number> {
  const format = o.format ?? (o.syslog !== undefined ? 'syslog' : 'jsonl');
  if (format !== 'jsonl' && format !== 'syslog') throw new CliError(`bad --format "${format}": expected jsonl or syslog`, 2);
  const target = o.syslog !== undefined ? parseTarget(o.syslog) : null;
  const q = times(o);
  const store = await openCliStore(config);
  try {
    const rows = store.iterate(q);
    if (format === 'jsonl') {
      let n = 0;
      for await (const r of rows) {
        io.out(`${JSON.stringify(eventJson(r))}\n`);
        n++;
      }
      return n;
    }
    const lines = (async function* () {
      for await (const r of rows) yield syslogLine(r);
    })();
    if (target === null) {
      let n = 0;
      for await (const l of lines) {
        io.out(`${l}\n`);
        n++;
      }
      return n;
    }
    return await sendSyslog(target, lines);
  } finally {
    await store.close();
  }
}

function parseTarget(s: string): ReturnType<typeof parseSyslogTarget> {
  try {
    return parseSyslogTarget(s);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}
