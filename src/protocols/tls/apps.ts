// Which application a TLS server name belongs to, from conf/apps.yaml (data
// operators extend): app name -> server-name suffixes. A suffix matches the
// name itself and every subdomain; the longest matching suffix wins, so
// "teams.microsoft.com: teams" beats a broader "microsoft.com: office".
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, formatIssues } from '../../config/errors';
import { parseYaml, readSmallFile } from '../../config/load';

const appName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected an app name of a-z 0-9 . _ - (lower case)');
const suffix = z
  .string({ invalid_type_error: 'expected a server name suffix string' })
  .transform((s) => s.trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, ''))
  .pipe(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'expected a DNS name suffix such as "whatsapp.net"'));

export const appsSchema = z
  .object({
    apps: z.record(appName, z.array(suffix, { invalid_type_error: 'expected a list of server name suffixes' })).default({}),
  })
  .strict();

export class AppCatalog {
  private readonly bySuffix = new Map<string, string>();

  constructor(
    apps: Readonly<Record<string, readonly string[]>>,
    /** File it came from, for logs; null for one built in code. */
    readonly file: string | null = null,
  ) {
    for (const [app, suffixes] of Object.entries(apps)) {
      // First app listed keeps a suffix listed twice: the file reads top-down.
      for (const s of suffixes) if (!this.bySuffix.has(s)) this.bySuffix.set(s, app);
    }
  }

  get size(): number {
    return this.bySuffix.size;
  }

  /** App for a server name (lower case, no trailing dot), or undefined. */
  classify(sni: string | undefined): string | undefined {
    if (sni === undefined || sni === '') return undefined;
    // Walk from the full name to ever shorter parent domains: the first hit is the longest suffix.
    let name = sni;
    for (;;) {
      const app = this.bySuffix.get(name);
      if (app !== undefined) return app;
      const dot = name.indexOf('.');
      if (dot < 0) return undefined;
      name = name.slice(dot + 1);
    }
  }
}

export function parseApps(raw: unknown, file: string | null): AppCatalog {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): expected a mapping with "apps"']);
  }
  const r = appsSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(file, formatIssues(r.error.issues, raw, undefined, appsSchema));
  return new AppCatalog(r.data.apps, file);
}

export function loadAppsFile(path: string): AppCatalog {
  return parseApps(parseYaml(readSmallFile(path, 'apps file'), path), path);
}

/** conf/apps.yaml shipped with the package (dist/src/... or src/... both find it). */
export function embeddedAppsPath(): string {
  const candidates = [resolve(__dirname, '../../../conf/apps.yaml'), resolve(__dirname, '../../../../conf/apps.yaml')];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/**
 * The apps file for a config: inspect.apps_file (relative to the config
 * file's directory) when set; else apps.yaml beside the config file when it
 * exists; else the shipped conf/apps.yaml.
 */
export function resolveAppsPath(configFile: string | null, appsFile: string | undefined, cwd = process.cwd()): string {
  const base = configFile ? dirname(configFile) : cwd;
  if (appsFile !== undefined) return resolve(base, appsFile);
  if (configFile) {
    const beside = resolve(base, 'apps.yaml');
    if (existsSync(beside)) return beside;
  }
  return embeddedAppsPath();
}
