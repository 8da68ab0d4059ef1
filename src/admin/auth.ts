// Credentials of the admin UI and /api/*: a bearer token and/or one Basic
// user. Secrets are hashed to 32 bytes on both sides and compared with
// timingSafeEqual, so timing reveals neither the secret nor its length.
// The token is also accepted as the Basic password (any user name): a browser
// only knows how to prompt for Basic, and scripts can send Bearer.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();
/** Compared against when a side is not configured, so every path costs the same. */
const DUMMY = sha256('imgate-admin-not-configured');

export interface AdminAuthSettings {
  token?: string;
  token_file?: string;
  basic?: { user: string; password_sha256?: string; password_file?: string };
  realm: string;
}

export interface ResolvedAuth {
  tokenHash: Buffer | null;
  basic: { userHash: Buffer; passwordHash: Buffer } | null;
  realm: string;
  /** How the operator finds the credentials (logged at start). */
  source: { mode: 'token' | 'token_file' | 'basic' | 'generated'; path?: string; created?: boolean };
}

export const GENERATED_TOKEN_FILE = 'admin-token';

/** First line of a secret file; errors name the file and the key. */
function readSecret(path: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`admin.auth.${key}: cannot read ${path}: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const line = (text.split(/\r?\n/, 1)[0] ?? '').trim();
  if (line.length === 0) throw new Error(`admin.auth.${key}: ${path} is empty`);
  return line;
}

/**
 * The embedded default: a random token in data_dir/admin-token, created 0600
 * with O_EXCL on first start and read back afterwards, so restarts keep it.
 */
function generatedToken(dataDir: string): { token: string; path: string; created: boolean } {
  const path = join(dataDir, GENERATED_TOKEN_FILE);
  mkdirSync(dirname(path), { recursive: true });
  const token = randomBytes(32).toString('base64url');
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${token}\n`);
    } finally {
      closeSync(fd);
    }
    return { token, path, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`admin: cannot create ${path}: ${(err as Error).message}`);
    return { token: readSecret(path, 'token_file'), path, created: false };
  }
}

/** Resolves files against the config file's directory (or data_dir for the generated token). */
/**
 * For `imgate check-config`: the secret files admin.auth names exist and hold
 * a secret, so a typo fails the check instead of the next start. Nothing is
 * generated or kept.
 */
export function checkAdminSecrets(s: AdminAuthSettings, configDir: string): void {
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(configDir, p));
  if (s.token === undefined && s.token_file !== undefined) readSecret(rel(s.token_file), 'token_file');
  if (s.basic !== undefined && s.basic.password_sha256 === undefined && s.basic.password_file !== undefined) {
    readSecret(rel(s.basic.password_file), 'basic.password_file');
  }
}

export function resolveAdminAuth(s: AdminAuthSettings, dirs: { configDir: string; dataDir: string }): ResolvedAuth {
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(dirs.configDir, p));
  let tokenHash: Buffer | null = null;
  let basic: ResolvedAuth['basic'] = null;
  let source: ResolvedAuth['source'] | null = null;
  if (s.token !== undefined) {
    tokenHash = sha256(s.token);
    source = { mode: 'token' };
  } else if (s.token_file !== undefined) {
    const path = rel(s.token_file);
    tokenHash = sha256(readSecret(path, 'token_file'));
    source = { mode: 'token_file', path };
  }
  if (s.basic) {
    const pw = s.basic.password_sha256 !== undefined
      ? Buffer.from(s.basic.password_sha256, 'hex')
      : sha256(readSecret(rel(s.basic.password_file as string), 'basic.password_file'));
    basic = { userHash: sha256(s.basic.user), passwordHash: pw };
    source ??= { mode: 'basic' };
  }
  if (source === null) {
    const g = generatedToken(dirs.dataDir);
    tokenHash = sha256(g.token);
    source = { mode: 'generated', path: g.path, created: g.created };
  }
  return { tokenHash, basic, realm: s.realm, source };
}

export class AdminAuth {
  constructor(private readonly r: ResolvedAuth) {}

  /** Challenges sent with every 401 (Basic first: browsers prompt for it). */
  get challenges(): string[] {
    const out = [`Basic realm="${this.r.realm}", charset="UTF-8"`];
    if (this.r.tokenHash) out.push(`Bearer realm="${this.r.realm}"`);
    return out;
  }

  /** True when the Authorization header carries valid credentials. */
  check(header: string | undefined): boolean {
    if (header === undefined || header.length > 4096) return false;
    const sp = header.indexOf(' ');
    if (sp < 0) return false;
    const scheme = header.slice(0, sp).toLowerCase();
    const value = header.slice(sp + 1).trim();
    if (scheme === 'bearer') return this.tokenOk(value);
    if (scheme !== 'basic') return false;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    // Both checks always run: which one failed must not show in the timing.
    const byUser = this.basicOk(user, pass);
    const byToken = this.tokenOk(pass);
    return byUser || byToken;
  }

  private tokenOk(presented: string): boolean {
    const ok = timingSafeEqual(sha256(presented), this.r.tokenHash ?? DUMMY);
    return ok && this.r.tokenHash !== null;
  }

  private basicOk(user: string, pass: string): boolean {
    const b = this.r.basic;
    const u = timingSafeEqual(sha256(user), b?.userHash ?? DUMMY);
    const p = timingSafeEqual(sha256(pass), b?.passwordHash ?? DUMMY);
    return u && p && b !== null;
  }
}
