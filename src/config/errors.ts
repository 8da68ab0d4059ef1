// Turns zod issues and YAML parse errors into one-line messages that name the
// key path and the offending value, e.g.
//   icap.listen.port: expected an integer 0-65535, got "abc"
import { z, type ZodIssue } from 'zod';
import { YAMLError } from 'yaml';

export class ConfigError extends Error {
  constructor(
    readonly file: string | null,
    readonly problems: string[],
  ) {
    super(`${file ?? 'config'}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function valueAt(root: unknown, path: ReadonlyArray<string | number>): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const seg of path) {
    // Schemas that accept "one item or a list" report a lone item as [0].
    if (seg === 0 && !Array.isArray(cur)) continue;
    if (cur === null || typeof cur !== 'object' || !(seg in (cur as object))) return { found: false, value: undefined };
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: cur };
}

/** Short, bounded rendering of a bad value; secrets stay short too. */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Peels defaults, optionals, effects and arrays to reach the object schema at `path`. */
function objectAt(schema: z.ZodTypeAny, path: ReadonlyArray<string | number>): z.AnyZodObject | null {
  let cur: z.ZodTypeAny = schema;
  let i = 0;
  for (;;) {
    if (cur instanceof z.ZodDefault) cur = cur._def.innerType as z.ZodTypeAny;
    else if (cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodTypeAny;
    else if (cur instanceof z.ZodEffects) cur = cur.innerType() as z.ZodTypeAny;
    else if (cur instanceof z.ZodArray && typeof path[i] === 'number') {
      cur = cur.element as z.ZodTypeAny;
      i++;
    } else if (cur instanceof z.ZodArray && i === path.length) cur = cur.element as z.ZodTypeAny;
    else if (cur instanceof z.ZodObject) {
      if (i === path.length) return cur;
      const next = (cur.shape as Record<string, z.ZodTypeAny>)[String(path[i])];
      if (!next) return null;
      cur = next;
      i++;
    } else return null;
  }
}

/** `prefix` renders the start of each message from the issue path (e.g. to add a rule id). */
export function formatIssues(
  issues: readonly ZodIssue[],
  raw: unknown,
  prefix: (path: ReadonlyArray<string | number>) => string = formatPath,
  schema?: z.ZodTypeAny,
): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const where = prefix(issue.path) || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const obj = schema ? objectAt(schema, issue.path) : null;
      const allowed = obj ? ` (expected one of: ${Object.keys(obj.shape as object).join(', ')})` : '';
      for (const key of issue.keys) {
        out.push(`${where === '(top level)' ? key : `${where}.${key}`}: unknown key${allowed}`);
      }
      continue;
    }
    const { found, value } = valueAt(raw, issue.path);
    if (!found || value === undefined) {
      out.push(`${where}: ${issue.message} (missing)`);
    } else if (value !== null && typeof value === 'object' && issue.code === 'custom') {
      out.push(`${where}: ${issue.message}`);
    } else {
      out.push(`${where}: ${issue.message}, got ${showValue(value)}`);
    }
  }
  return out;
}

/** One syntax slip cascades into dozens of parser errors; the first few locate it. */
const MAX_YAML_ERRORS = 5;

export function formatYamlErrors(errors: readonly YAMLError[]): string[] {
  const out = errors.slice(0, MAX_YAML_ERRORS).map((e) => {
    const pos = e.linePos?.[0];
    const first = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?\s*$/, '');
    return pos ? `line ${pos.line}, column ${pos.col}: YAML syntax error: ${first}` : `YAML syntax error: ${first}`;
  });
  if (errors.length > MAX_YAML_ERRORS) out.push(`(${errors.length - MAX_YAML_ERRORS} more YAML errors after these)`);
  return out;
}
