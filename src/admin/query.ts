// zod schemas of the /api/* query strings: every query has a bounded limit
// and a bounded time window, and a bad value is a 400 naming the parameter.
import { z } from 'zod';
import { parseTime } from '../audit/time';
import { ACTIONS, EVENT_KINDS } from '../events/types';

export const MAX_EVENTS = 500;
export const MAX_CONVERSATIONS = 500;
export const MAX_FILES = 500;
/** Series: at most this window and this many buckets per key. */
export const MAX_SERIES_WINDOW_MS = 400 * 86_400_000;
export const MAX_BUCKETS = 2000;
export const MIN_BUCKET_MS = 60_000;
const MAX_TEXT = 512;
const DAY = 86_400_000;

const time = z.string().max(64).transform((s, ctx) => {
  try {
    return parseTime(s);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});
const intIn = (min: number, max: number) =>
  z.string().regex(/^\d{1,16}$/, `expected an integer ${min}-${max}`).transform(Number).pipe(z.number().int().min(min, `expected an integer ${min}-${max}`).max(max, `expected an integer ${min}-${max}`));
const name = z.string().min(1).max(MAX_TEXT, `expected at most ${MAX_TEXT} characters`);

const filter = {
  user: name.optional(),
  account: name.optional(),
  peer: name.optional(),
  protocol: name.optional(),
  since: time.optional(),
  until: time.optional(),
};

const window = <T extends { since?: number; until?: number }>(q: T, ctx: z.RefinementCtx): void => {
  if (q.since !== undefined && q.until !== undefined && q.since > q.until) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['since'], message: 'since is after until' });
  }
};

export const eventsQuery = z
  .object({
    ...filter,
    q: z.string().max(MAX_TEXT, `expected at most ${MAX_TEXT} characters`).optional(),
    kind: z.enum(EVENT_KINDS as unknown as [string, ...string[]]).optional(),
    action: z.enum(ACTIONS as unknown as [string, ...string[]]).optional(),
    afterSeq: intIn(0, Number.MAX_SAFE_INTEGER).optional(),
    order: z.enum(['newest', 'oldest']).optional(),
    limit: intIn(1, MAX_EVENTS).default(String(100)),
  })
  .strict()
  .superRefine(window);

export const liveQuery = z
  .object({ afterSeq: intIn(0, Number.MAX_SAFE_INTEGER).optional(), limit: intIn(1, MAX_EVENTS).default('100') })
  .strict();

export const transcriptQuery = z
  .object({ account: name.optional(), peer: name, protocol: name.optional(), since: time.optional(), until: time.optional(), limit: intIn(1, MAX_EVENTS).default('500') })
  .strict()
  .superRefine(window);

export const conversationsQuery = z
  .object({ ...filter, limit: intIn(1, MAX_CONVERSATIONS).default('100') })
  .strict()
  .superRefine(window);

export const filesQuery = z
  .object({ name: name.optional(), since: time.optional(), until: time.optional(), limit: intIn(1, MAX_FILES).default('100') })
  .strict()
  .superRefine(window);

export const summaryQuery = z.object({ since: time.optional(), until: time.optional() }).strict().superRefine(window);

/** Series: a closed window (default the last 24 h) cut into at most MAX_BUCKETS buckets. */
export const seriesQuery = z
  .object({
    ...filter,
    by: z.enum(['protocol', 'app', 'user', 'action', 'kind']).default('app'),
    bucket: intIn(MIN_BUCKET_MS, 31 * DAY).optional(),
    top: intIn(1, 20).optional(),
  })
  .strict()
  .transform((q, ctx) => {
    const until = q.until ?? Date.now();
    const since = q.since ?? until - DAY;
    if (since > until) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['since'], message: 'since is after until' });
      return z.NEVER;
    }
    if (until - since > MAX_SERIES_WINDOW_MS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['since'], message: `window longer than ${MAX_SERIES_WINDOW_MS / DAY} days` });
      return z.NEVER;
    }
    // Default: about 48 buckets, rounded up to whole minutes.
    const bucketMs = q.bucket ?? Math.max(MIN_BUCKET_MS, Math.ceil((until - since) / 48 / MIN_BUCKET_MS) * MIN_BUCKET_MS);
    if ((until - since) / bucketMs > MAX_BUCKETS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['bucket'], message: `more than ${MAX_BUCKETS} buckets: use a wider bucket` });
      return z.NEVER;
    }
    const { bucket: _b, ...rest } = q;
    return { ...rest, since, until, bucketMs };
  });

export const sha256Param = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex characters');

/** "key: message; key: message" for a 400 body. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(query)'}: ${i.message}`).join('; ');
}

/** Query string to a plain object; a repeated parameter is a 400, not a silent pick. */
export function queryObject(params: URLSearchParams): { ok: true; value: Record<string, string> } | { ok: false; error: string } {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of params) {
    if (++n > 32) return { ok: false, error: 'too many query parameters' };
    if (Object.prototype.hasOwnProperty.call(out, k)) return { ok: false, error: `${k}: given more than once` };
    out[k] = v;
  }
  return { ok: true, value: out };
}
