import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { AdminAuth, checkAdminSecrets, GENERATED_TOKEN_FILE, resolveAdminAuth } from '../../../src/admin/auth';
import { parseConfig } from '../../../src/config/load';

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const sha = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgate-admin-auth-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const dirs = () => ({ configDir: dir, dataDir: path.join(dir, 'var') });

test('inline token: Bearer and Basic-with-token accepted; wrong, empty, malformed and other schemes refused', () => {
  const auth = new AdminAuth(resolveAdminAuth({ token: 'correct-horse-battery-staple', realm: 'r' }, dirs()));
  expect(auth.check('Bearer correct-horse-battery-staple')).toBe(true);
  expect(auth.check('bearer correct-horse-battery-staple')).toBe(true);
  expect(auth.check(basic('anyone', 'correct-horse-battery-staple'))).toBe(true);
  for (const h of [undefined, '', 'Bearer', 'Bearer wrong', 'Bearer correct-horse-battery-stapl', basic('x', 'wrong'), 'Basic !!!', 'Basic ' + Buffer.from('nocolon').toString('base64'), 'Digest username="x"', `Bearer ${'a'.repeat(5000)}`]) {
    expect(auth.check(h)).toBe(false);
  }
  expect(auth.challenges[0]).toBe('Basic realm="r", charset="UTF-8"');
  expect(auth.challenges).toContain('Bearer realm="r"');
});

test('Basic user with password_sha256: only that user and password', () => {
  const auth = new AdminAuth(resolveAdminAuth({ basic: { user: 'officer', password_sha256: sha('s3cret pw') }, realm: 'r' }, dirs()));
  expect(auth.check(basic('officer', 's3cret pw'))).toBe(true);
  expect(auth.check(basic('officer', 's3cret pw '))).toBe(false);
  expect(auth.check(basic('other', 's3cret pw'))).toBe(false);
  expect(auth.check('Bearer s3cret pw')).toBe(false);
  // No token configured: a Basic password must not be taken as a token.
  expect(auth.challenges).toEqual(['Basic realm="r", charset="UTF-8"']);
});

test('token_file and password_file are read relative to the config file, first line only', () => {
  fs.writeFileSync(path.join(dir, 'tok'), 'file-token-0123456789\nignored\n');
  fs.writeFileSync(path.join(dir, 'pw'), 'pw-from-file\n');
  const r = resolveAdminAuth({ token_file: 'tok', basic: { user: 'u', password_file: 'pw' }, realm: 'r' }, dirs());
  const auth = new AdminAuth(r);
  expect(r.source).toEqual({ mode: 'token_file', path: path.join(dir, 'tok') });
  expect(auth.check('Bearer file-token-0123456789')).toBe(true);
  expect(auth.check(basic('u', 'pw-from-file'))).toBe(true);
  expect(() => resolveAdminAuth({ token_file: 'missing', realm: 'r' }, dirs())).toThrow(/admin\.auth\.token_file: cannot read .*missing: file not found/);
  fs.writeFileSync(path.join(dir, 'empty'), '\n');
  expect(() => resolveAdminAuth({ token_file: 'empty', realm: 'r' }, dirs())).toThrow(/is empty/);
});

test('nothing configured: a random token is generated 0600 in data_dir once and kept across restarts', () => {
  const first = resolveAdminAuth({ realm: 'r' }, dirs());
  const file = path.join(dir, 'var', GENERATED_TOKEN_FILE);
  expect(first.source).toEqual({ mode: 'generated', path: file, created: true });
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const token = fs.readFileSync(file, 'utf8').trim();
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const second = resolveAdminAuth({ realm: 'r' }, dirs());
  expect(second.source.created).toBe(false);
  expect(new AdminAuth(second).check(`Bearer ${token}`)).toBe(true);
  expect(new AdminAuth(second).check('Bearer not-it')).toBe(false);
});

test('config schema: admin.auth keys validated with errors naming the key', () => {
  const ok = parseConfig({ admin: { auth: { token: 'x'.repeat(20) } } }, null, { cwd: dir });
  expect(ok.admin.auth.token).toBe('x'.repeat(20));
  expect(ok.admin.ui).toBe(true);
  expect(parseConfig({}, null, { cwd: dir }).admin.auth).toEqual({ realm: 'imgate admin' });
  expect(() => parseConfig({ admin: { auth: { token: 'short' } } }, null, { cwd: dir })).toThrow(/admin\.auth\.token/);
  expect(() => parseConfig({ admin: { auth: { token: 'x'.repeat(20), token_file: 'f' } } }, null, { cwd: dir })).toThrow(/at most one of token or token_file/);
  expect(() => parseConfig({ admin: { auth: { basic: { user: 'u' } } } }, null, { cwd: dir })).toThrow(/exactly one of password_sha256 or password_file/);
  expect(() => parseConfig({ admin: { auth: { basic: { user: 'u', password_sha256: 'abc' } } } }, null, { cwd: dir })).toThrow(/64 hex/);
});

test('check-config: named secret files must exist and hold a secret; nothing is generated', () => {
  expect(() => checkAdminSecrets({ token_file: 'missing-token', realm: 'r' }, dir)).toThrow(/admin\.auth\.token_file: cannot read .*missing-token: file not found/);
  fs.writeFileSync(path.join(dir, 'empty'), '\n');
  expect(() => checkAdminSecrets({ basic: { user: 'officer', password_file: 'empty' }, realm: 'r' }, dir)).toThrow(/admin\.auth\.basic\.password_file: .*empty is empty/);
  fs.writeFileSync(path.join(dir, 'token'), 'a-long-enough-token-value\n');
  expect(() => checkAdminSecrets({ token_file: 'token', realm: 'r' }, dir)).not.toThrow();
  expect(() => checkAdminSecrets({ realm: 'r' }, dir)).not.toThrow();
  expect(fs.existsSync(path.join(dir, 'var', GENERATED_TOKEN_FILE))).toBe(false);
});
