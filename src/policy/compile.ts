// Compiles a validated policy document into predicates, once per load, so
// evaluating an event is a walk over closures with no parsing or RegExp
// construction on the hot path.
import type { Action, ImEvent, Verdict } from '../events/types';
import { CidrList } from '../util/cidr';
import { compileGlobs, type Matcher } from '../util/glob';
import { redactText } from './redact';
import { DAYS, type ConditionsDoc, type PolicyDoc, type TimeWindowDoc } from './schema';

type Predicate = (ev: ImEvent) => boolean;

export interface CompiledRule {
  id: string;
  action: Action;
  test: Predicate;
  /** text_matches with the global flag, for 'redact'; null when the rule has none. */
  redactors: RegExp[] | null;
}

export class PolicyCompileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'PolicyCompileError';
  }
}

/**
 * Node 20's RegExp has no inline flags, but policy authors write PCRE-style
 * "(?i)foo". A leading "(?i)" (or "(?is)" etc. with i/s/m) becomes flags.
 */
export function compileRegex(source: string): RegExp {
  let body = source;
  let flags = '';
  const m = /^\(\?([ism]+)\)/.exec(body);
  if (m) {
    flags = [...new Set((m[1] as string).split(''))].join('');
    body = body.slice(m[0].length);
  }
  return new RegExp(body, flags);
}

/** Global-flag copies of text_matches patterns, for redaction; null when there are none. */
export function compileRedactors(sources: readonly string[] | undefined): RegExp[] | null {
  if (!sources || sources.length === 0) return null;
  const out: RegExp[] = [];
  for (const s of sources) {
    try {
      const re = compileRegex(s);
      out.push(new RegExp(re.source, `${re.flags}g`));
    } catch {
      // anyRegex reports it; a policy with an invalid pattern never loads.
    }
  }
  return out;
}

function anyRegex(sources: readonly string[], where: string, problems: string[]): Matcher {
  const res: RegExp[] = [];
  sources.forEach((s, i) => {
    try {
      res.push(compileRegex(s));
    } catch (err) {
      problems.push(`${where}[${i}]: invalid regular expression ${JSON.stringify(s)}: ${(err as Error).message}`);
    }
  });
  return (v: string) => {
    for (const re of res) if (re.test(v)) return true;
    return false;
  };
}

const field = (get: (ev: ImEvent) => string | undefined, m: Matcher): Predicate => (ev) => {
  const v = get(ev);
  return v !== undefined && m(v);
};

function parseHm(s: string): number {
  const [h, m] = s.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

function timePredicate(windows: readonly TimeWindowDoc[]): Predicate {
  const compiled = windows.map((w) => {
    const days = w.days ? new Set(w.days.map((d) => DAYS.indexOf(d))) : null;
    let from = 0;
    let to = 24 * 60;
    if (w.between) {
      const [a, b] = w.between.split('-') as [string, string];
      from = parseHm(a);
      to = parseHm(b);
    }
    return { days, from, to };
  });
  return (ev) => {
    const d = new Date(ev.time);
    const day = d.getDay();
    const minute = d.getHours() * 60 + d.getMinutes();
    for (const w of compiled) {
      // A window like 22:00-06:00 wraps midnight; its early part belongs to
      // the day on which the window started.
      if (w.from <= w.to) {
        if ((w.days === null || w.days.has(day)) && minute >= w.from && minute < w.to) return true;
      } else {
        if ((w.days === null || w.days.has(day)) && minute >= w.from) return true;
        if ((w.days === null || w.days.has((day + 6) % 7)) && minute < w.to) return true;
      }
    }
    return false;
  };
}

function compileConditions(when: ConditionsDoc, where: string, problems: string[]): Predicate[] {
  const preds: Predicate[] = [];
  const w = (k: string) => `${where}.when.${k}`;
  if (when.kind) {
    const set = new Set<string>(when.kind);
    preds.push((ev) => set.has(ev.kind));
  }
  if (when.door) {
    const set = new Set<string>(when.door);
    preds.push((ev) => set.has(ev.door));
  }
  if (when.direction) {
    const set = new Set<string>(when.direction);
    preds.push((ev) => ev.direction !== undefined && set.has(ev.direction));
  }
  if (when.user) preds.push(field((ev) => ev.user, compileGlobs(when.user)));
  if (when.group) {
    const m = compileGlobs(when.group);
    preds.push((ev) => ev.groups.some(m));
  }
  if (when.client_ip) {
    try {
      const list = new CidrList(when.client_ip);
      preds.push((ev) => list.matches(ev.clientIp));
    } catch (err) {
      problems.push(`${w('client_ip')}: ${(err as Error).message}`);
    }
  }
  if (when.protocol) preds.push(field((ev) => ev.protocol, compileGlobs(when.protocol)));
  if (when.app) preds.push(field((ev) => ev.app, compileGlobs(when.app)));
  if (when.account) preds.push(field((ev) => ev.account, compileGlobs(when.account)));
  if (when.peer) preds.push(field((ev) => ev.peer, compileGlobs(when.peer)));
  if (when.host) preds.push(field((ev) => ev.host ?? ev.destination?.host, compileGlobs(when.host)));
  if (when.url_matches) preds.push(field((ev) => ev.url, anyRegex(when.url_matches, w('url_matches'), problems)));
  if (when.text_matches) preds.push(field((ev) => ev.text, anyRegex(when.text_matches, w('text_matches'), problems)));
  if (when.file_name) preds.push(field((ev) => ev.file?.name, compileGlobs(when.file_name)));
  if (when.file_size_over !== undefined) {
    const limit = when.file_size_over;
    preds.push((ev) => ev.file?.size !== undefined && ev.file.size > limit);
  }
  if (when.time) preds.push(timePredicate(when.time));
  return preds;
}

export interface CompiledPolicy {
  readonly defaultAction: Action;
  readonly rules: readonly CompiledRule[];
  evaluate(ev: ImEvent): Verdict;
  /** Applies a redact verdict of this policy to a text (see redact.ts). */
  redact(text: string, verdict: Verdict): string;
}

export function compilePolicy(doc: PolicyDoc): CompiledPolicy {
  const problems: string[] = [];
  const seen = new Set<string>();
  const rules: CompiledRule[] = doc.rules.map((r, i) => {
    const where = `rules[${i}] (id "${r.id}")`;
    if (seen.has(r.id)) problems.push(`${where}.id: duplicate rule id`);
    seen.add(r.id);
    const preds = compileConditions(r.when, where, problems);
    const test: Predicate = (ev) => {
      for (const p of preds) if (!p(ev)) return false;
      return true;
    };
    return { id: r.id, action: r.then, test, redactors: compileRedactors(r.when.text_matches) };
  });
  if (problems.length > 0) throw new PolicyCompileError(problems);
  const defaultVerdict: Verdict = Object.freeze({ action: doc.default, rule: 'default' });
  // Shared and frozen: callers get the same object per rule, never a copy.
  const verdicts = rules.map((r): Verdict => Object.freeze({ action: r.action, rule: r.id }));
  const byId = new Map(rules.map((r) => [r.id, r]));
  return {
    defaultAction: doc.default,
    rules,
    evaluate(ev) {
      for (let i = 0; i < rules.length; i++) {
        if ((rules[i] as CompiledRule).test(ev)) return verdicts[i] as Verdict;
      }
      return defaultVerdict;
    },
    redact(text, verdict) {
      return redactText(text, byId.get(verdict.rule)?.redactors ?? null);
    },
  };
}
