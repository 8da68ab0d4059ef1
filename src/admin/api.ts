// The JSON API behind the admin UI. Read-only: every route is a GET over the
// record store or the policy in force. Each answer is computed from validated
// input (query.ts) and awaited store calls; errors become JSON 4xx/5xx.
import type { z } from 'zod';
import type { SeriesPoint, Store } from '../audit/types';
import type { PolicyStore } from '../policy/store';
import { archivedPath, contentDisposition } from './download';
import {
  conversationsQuery,
  describeIssues,
  eventsQuery,
  filesQuery,
  liveQuery,
  queryObject,
  seriesQuery,
  sha256Param,
  summaryQuery,
  transcriptQuery,
} from './query';

export interface AdminApiDeps {
  /** The record store, or null when audit is disabled. */
  store(): Store | null;
  /** data_dir: archived paths are relative to it. */
  dataDir(): string;
  /** The live policy (replaced on reload). */
  policy: PolicyStore;
}

export type ApiAnswer =
  | { status: number; json: unknown }
  | { status: 200; download: { abs: string; disposition: string } };

const bad = (error: string): ApiAnswer => ({ status: 400, json: { error } });
const notFound = (error = 'not found'): ApiAnswer => ({ status: 404, json: { error } });
const noStore: ApiAnswer = { status: 503, json: { error: 'the record store is disabled (audit.enabled: false)' } };

function parse<S extends z.ZodTypeAny>(schema: S, params: URLSearchParams): { ok: true; value: z.output<S> } | { ok: false; answer: ApiAnswer } {
  const obj = queryObject(params);
  if (!obj.ok) return { ok: false, answer: bad(obj.error) };
  const r = schema.safeParse(obj.value);
  if (!r.success) return { ok: false, answer: bad(describeIssues(r.error)) };
  return { ok: true, value: r.data as z.output<S> };
}

/** Drops undefined values: the store treats a present key as a filter. */
function defined<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

/**
 * Bucket starts are multiples of bucketMs by contract; re-aligned (and merged)
 * here so a backend that returns unfloored times still charts correctly.
 */
export function alignBuckets(points: readonly SeriesPoint[], bucketMs: number): SeriesPoint[] {
  const merged = new Map<string, SeriesPoint>();
  for (const p of points) {
    const t = Math.floor(p.t / bucketMs) * bucketMs;
    const k = `${t}\u0000${p.key}`;
    const cur = merged.get(k);
    if (cur) cur.count += p.count;
    else merged.set(k, { t, key: p.key, count: p.count });
  }
  return [...merged.values()];
}

type Route = (params: URLSearchParams, store: Store) => Promise<ApiAnswer>;

function routes(): Record<string, Route> {
  return {
    async summary(params, store) {
      const p = parse(summaryQuery, params);
      if (!p.ok) return p.answer;
      const [report, stats] = await Promise.all([store.report({ ...defined(p.value), topPeers: 5 }), store.stats()]);
      return { status: 200, json: { report, stats } };
    },
    async series(params, store) {
      const p = parse(seriesQuery, params);
      if (!p.ok) return p.answer;
      const q = p.value;
      const points = alignBuckets(await store.series(defined(q)), q.bucketMs);
      return { status: 200, json: { since: q.since, until: q.until, bucketMs: q.bucketMs, by: q.by, points } };
    },
    async events(params, store) {
      const p = parse(eventsQuery, params);
      if (!p.ok) return p.answer;
      const { q, ...rest } = p.value;
      const events = await store.search(defined({ ...rest, text: q }));
      return { status: 200, json: { events } };
    },
    async live(params, store) {
      const p = parse(liveQuery, params);
      if (!p.ok) return p.answer;
      const { afterSeq, limit } = p.value;
      // First poll: the newest events, shown oldest first; then everything after the last seq seen.
      const events = afterSeq === undefined
        ? (await store.search({ limit, order: 'newest' })).reverse()
        : await store.search({ afterSeq, limit, order: 'oldest' });
      const last = events.length > 0 ? (events[events.length - 1] as { seq: number }).seq : (afterSeq ?? 0);
      return { status: 200, json: { events, lastSeq: last } };
    },
    async conversations(params, store) {
      const p = parse(conversationsQuery, params);
      if (!p.ok) return p.answer;
      return { status: 200, json: { conversations: await store.conversations(defined(p.value)) } };
    },
    async transcript(params, store) {
      const p = parse(transcriptQuery, params);
      if (!p.ok) return p.answer;
      const events = await store.search(defined({ ...p.value, order: 'oldest' as const }));
      return { status: 200, json: { events } };
    },
    async files(params, store) {
      const p = parse(filesQuery, params);
      if (!p.ok) return p.answer;
      return { status: 200, json: { files: await store.files(defined(p.value)) } };
    },
  };
}

export function policyInfo(policy: PolicyStore): unknown {
  const { policy: p, istag } = policy.current;
  return { file: p.file, default: p.doc.default, rules: p.doc.rules, istag, hash: p.hash };
}

export function createApi(deps: AdminApiDeps): (path: string, params: URLSearchParams) => Promise<ApiAnswer> {
  const table = routes();
  return async (path, params) => {
    const rest = path.slice('/api/'.length);
    if (rest === 'policy') return { status: 200, json: policyInfo(deps.policy) };
    const store = deps.store();
    if (rest.startsWith('files/')) {
      const sha = sha256Param.safeParse(rest.slice('files/'.length));
      if (!sha.success) return bad(`sha256: ${sha.error.issues[0]?.message ?? 'invalid'}`);
      if (!store) return noStore;
      const f = await store.file(sha.data);
      if (!f || f.stored_path === null) return notFound('file not archived');
      const abs = archivedPath(deps.dataDir(), f.stored_path);
      if (abs === null) return notFound('file not archived');
      return { status: 200, download: { abs, disposition: contentDisposition(f.name, f.sha256) } };
    }
    const route = Object.prototype.hasOwnProperty.call(table, rest) ? table[rest] : undefined;
    if (!route) return notFound();
    if (!store) return noStore;
    return route(params, store);
  };
}
