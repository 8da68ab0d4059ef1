// Loads, validates and compiles a policy file. Errors name the rule (index
// and id) and the key, e.g.
//   rules[1] (id "no-ftp").when.kind[0]: expected one of login, ..., got "chat"
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ConfigError, formatIssues } from '../config/errors';
import { parseYaml, readSmallFile } from '../config/load';
import { compilePolicy, PolicyCompileError, type CompiledPolicy } from './compile';
import { policySchema, type PolicyDoc } from './schema';

export interface Policy {
  /** Absolute path, or null for the embedded default policy. */
  readonly file: string | null;
  readonly doc: PolicyDoc;
  readonly compiled: CompiledPolicy;
  /** sha256 hex of the normalised document: identical rules give identical hashes. */
  readonly hash: string;
}

function rulePrefix(raw: unknown) {
  return (path: ReadonlyArray<string | number>): string => {
    let out = '';
    for (let i = 0; i < path.length; i++) {
      const seg = path[i] as string | number;
      if (typeof seg === 'number') {
        out += `[${seg}]`;
        if (i === 1 && path[0] === 'rules') {
          const rules = (raw as { rules?: unknown }).rules;
          const id = Array.isArray(rules) ? (rules[seg] as { id?: unknown } | undefined)?.id : undefined;
          if (typeof id === 'string') out += ` (id "${id}")`;
        }
      } else {
        out += out === '' ? seg : `.${seg}`;
      }
    }
    return out;
  };
}

export function parsePolicy(raw: unknown, file: string | null): Policy {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): expected a mapping with "default" and "rules"']);
  }
  const result = policySchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues, raw, rulePrefix(raw), policySchema));
  let compiled: CompiledPolicy;
  try {
    compiled = compilePolicy(result.data);
  } catch (err) {
    if (err instanceof PolicyCompileError) throw new ConfigError(file, err.problems);
    throw err;
  }
  const hash = createHash('sha256').update(JSON.stringify(result.data)).digest('hex');
  return { file, doc: result.data, compiled, hash };
}

export const DEFAULT_POLICY_DOC = { default: 'allow', rules: [] } as const;

/**
 * Reads a policy file. When the path was never configured explicitly and the
 * file is absent, the embedded default policy (allow everything) applies.
 */
export function loadPolicy(path: string, explicit = true): Policy {
  if (!explicit && !existsSync(path)) return parsePolicy({ ...DEFAULT_POLICY_DOC }, null);
  return parsePolicy(parseYaml(readSmallFile(path, 'policy file'), path), path);
}
