import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../../../src/config';
import { UserDb } from '../../../src/config/users';
import { createHash } from 'node:crypto';

const dir = mkdtempSync(join(tmpdir(), 'imgate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('no path gives the embedded defaults', () => {
    const c = loadConfig(undefined, { cwd: dir });
    expect(c.configFile).toBeNull();
    expect(c.icap.listen).toEqual({ host: '127.0.0.1', port: 1344 });
    expect(c.socks5.listen.port).toBe(1080);
    expect(c.http_proxy.listen.port).toBe(3129);
    expect(c.admin.listen.port).toBe(9090);
    expect(c.access.clients).toEqual(['127.0.0.0/8', '::1/128']);
    expect(c.policyPath).toBe(join(dir, 'policy.yaml'));
    expect(c.policyExplicit).toBe(false);
    expect(c.dataDir).toBe(join(dir, 'var'));
  });

  test('an empty file gives the embedded defaults', () => {
    const c = loadConfig(file('empty.yaml', ''), { cwd: dir });
    const d = loadConfig(undefined, { cwd: dir });
    expect({ ...c, configFile: null }).toEqual(d);
  });

  test('the shipped conf/imgate.yaml equals the embedded defaults', () => {
    const shipped = join(__dirname, '../../../conf/imgate.yaml');
    const c = loadConfig(shipped);
    const raw = parse(readFileSync(shipped, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(raw).sort()).toEqual(
      ['access', 'admin', 'audit', 'av', 'data_dir', 'http_proxy', 'icap', 'inspect', 'log', 'policy_file', 'redirect', 'shutdown', 'socks5', 'tunnel', 'users'].sort(),
    );
    const d = parseConfig({}, shipped);
    expect({ ...c, policyExplicit: false }).toEqual(d);
  });

  test('values override defaults and policy_file resolves against the config dir', () => {
    const p = file(
      'good.yaml',
      `policy_file: rules/p.yaml\nicap: { listen: { port: 0 }, max_connections: 10 }\nusers:\n  - { name: alice, password: secret }\naccess:\n  destinations:\n    - { action: deny, ports: [25, "6660-6669"] }\n`,
    );
    const c = loadConfig(p, { cwd: '/' });
    expect(c.icap.listen.port).toBe(0);
    expect(c.icap.max_connections).toBe(10);
    expect(c.icap.preview_bytes).toBe(1024);
    expect(c.policyPath).toBe(join(dir, 'rules/p.yaml'));
    expect(c.policyExplicit).toBe(true);
    expect(c.dataDir).toBe('/var');
    expect(c.access.destinations[0]?.ports).toEqual([25, '6660-6669']);
  });

  test('--policy override resolves against the working directory', () => {
    const c = loadConfig(file('o.yaml', 'policy_file: x.yaml\n'), { cwd: '/srv', policyOverride: 'p.yaml' });
    expect(c.policyPath).toBe('/srv/p.yaml');
  });

  test('bad port names the key and the value', () => {
    expect(problemsOf(() => loadConfig(file('port.yaml', 'icap:\n  listen: { port: "abc" }\n')))).toEqual([
      'icap.listen.port: expected an integer 0-65535, got "abc"',
    ]);
    expect(problemsOf(() => parseConfig({ socks5: { listen: { port: 70000 } } }, null))).toEqual([
      'socks5.listen.port: expected an integer 0-65535, got 70000',
    ]);
  });

  test('unknown keys are rejected at any depth', () => {
    const problems = problemsOf(() => parseConfig({ icap: { bogus: 1 }, nope: true, access: { destinations: [{ action: 'deny', port: 1 }] } }, null));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^icap\.bogus: unknown key \(expected one of: enabled, listen, service_id, /),
        expect.stringMatching(/^nope: unknown key \(expected one of: data_dir, log, policy_file, icap, /),
        'access.destinations[0].port: unknown key (expected one of: action, hosts, cidrs, ports)',
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  test('enum, CIDR, user and host errors are specific', () => {
    const problems = problemsOf(() =>
      parseConfig(
        {
          socks5: { auth: 'weird' },
          access: { clients: ['10.0.0.0/33', 'not-an-ip'] },
          users: [{ name: 'bob' }, { name: 'al', password_sha256: 'zz' }],
          admin: { listen: { host: 'localhost' } },
        },
        null,
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'socks5.auth: expected one of none, userpass, got "weird"',
        expect.stringMatching(/^access\.clients\[0\]: invalid CIDR "10\.0\.0\.0\/33": prefix must be 0-32/),
        expect.stringMatching(/^access\.clients\[1\]: invalid CIDR "not-an-ip": not an IP address/),
        'users[0]: expected exactly one of password_sha256 or password',
        'users[1].password_sha256: expected 64 hex characters (SHA-256 of the password), got "zz"',
        'admin.listen.host: expected an IP address literal, got "localhost"',
      ]),
    );
  });

  test('duplicate users and bad port ranges are rejected', () => {
    expect(
      problemsOf(() => parseConfig({ users: [{ name: 'a', password: 'x' }, { name: 'a', password: 'y' }] }, null)),
    ).toEqual(['users[1].name: duplicate user name, got "a"']);
    expect(
      problemsOf(() => parseConfig({ access: { destinations: [{ action: 'deny', ports: ['90-80'] }] } }, null)),
    ).toEqual(['access.destinations[0].ports[0]: expected a range "a-b" with 0 <= a <= b <= 65535, got "90-80"']);
  });

  test('YAML syntax errors give line and column', () => {
    const problems = problemsOf(() => loadConfig(file('syntax.yaml', 'icap:\n  listen: [1\n')));
    expect(problems[0]).toMatch(/^line \d+, column \d+: YAML syntax error: /);
  });

  test('a cascade of YAML errors is capped', () => {
    const problems = problemsOf(() => loadConfig(file('cascade.yaml', '  a: b\nc: {\n'.repeat(20))));
    expect(problems.length).toBeLessThanOrEqual(6);
    expect(problems[problems.length - 1]).toMatch(/more YAML errors after these/);
  });

  test('a top-level list or scalar is rejected', () => {
    expect(problemsOf(() => loadConfig(file('list.yaml', '- a\n- b\n')))).toEqual(['(top level): expected a mapping of keys']);
  });

  test('missing file is a clear error', () => {
    const problems = problemsOf(() => loadConfig(join(dir, 'nope.yaml')));
    expect(problems).toEqual(['cannot read config file: file not found']);
  });
});

describe('UserDb', () => {
  const hash = createHash('sha256').update('s3cret').digest('hex');
  const db = new UserDb([
    { name: 'alice', password_sha256: hash },
    { name: 'bob', password: 'pw' },
  ]);
  test('accepts the right password in either form', () => {
    expect(db.verify('alice', 's3cret')).toBe(true);
    expect(db.verify('bob', 'pw')).toBe(true);
  });
  test('rejects wrong passwords and unknown users', () => {
    expect(db.verify('alice', 'S3cret')).toBe(false);
    expect(db.verify('bob', '')).toBe(false);
    expect(db.verify('carol', 'pw')).toBe(false);
    expect(db.verify('', '')).toBe(false);
  });
});
