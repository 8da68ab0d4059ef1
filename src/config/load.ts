// Reads and validates conf/imgate.yaml. A missing path means "embedded
// defaults"; every failure is a ConfigError listing each problem.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, type RawConfig } from './schema';
import { ConfigError, formatIssues, formatYamlErrors } from './errors';

/** Max size of a config or policy file: they are small hand-written YAML. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export interface Config extends RawConfig {
  /** Absolute path of the file read, or null for embedded defaults. */
  readonly configFile: string | null;
  /** policy_file resolved against the config file's directory (or cwd). */
  readonly policyPath: string;
  /** False when policy_file was not set anywhere: a missing file then means the default policy. */
  readonly policyExplicit: boolean;
  /** data_dir resolved against the working directory. */
  readonly dataDir: string;
}

export interface LoadOptions {
  /** --policy on the command line; resolved against the working directory. */
  policyOverride?: string;
  cwd?: string;
}

/** Reads a small text file with a size limit; errors name the file. */
export function readSmallFile(path: string, what: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError(path, [`cannot read ${what}: ${why}`]);
  }
  if (buf.length > MAX_CONFIG_BYTES) throw new ConfigError(path, [`${what} is larger than ${MAX_CONFIG_BYTES} bytes`]);
  return buf.toString('utf8');
}

/** Parses YAML text to a plain value; empty documents become {}. */
export function parseYaml(text: string, file: string | null): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(file, formatYamlErrors(doc.errors));
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return value === null || value === undefined ? {} : value;
}

export function parseConfig(raw: unknown, configFile: string | null, opts: LoadOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(configFile, ['(top level): expected a mapping of keys']);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(configFile, formatIssues(result.error.issues, raw, undefined, configSchema));
  const data = result.data;
  const baseDir = configFile ? dirname(configFile) : cwd;
  const explicitInFile = 'policy_file' in (raw as Record<string, unknown>);
  const policyPath = opts.policyOverride ? resolve(cwd, opts.policyOverride) : resolve(baseDir, data.policy_file);
  return {
    ...data,
    configFile,
    policyPath,
    policyExplicit: Boolean(opts.policyOverride) || explicitInFile,
    dataDir: resolve(cwd, data.data_dir),
  };
}

/** Loads a config file, or the embedded defaults when `path` is undefined. */
export function loadConfig(path?: string, opts: LoadOptions = {}): Config {
  if (path === undefined) return parseConfig({}, null, opts);
  const file = resolve(opts.cwd ?? process.cwd(), path);
  const text = readSmallFile(file, 'config file');
  return parseConfig(parseYaml(text, file), file, opts);
}
