import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config';
import type { ImEvent } from '../../../src/events/types';
import { compileRegex, computeIstag, loadPolicy, parsePolicy, PolicyStore } from '../../../src/policy';

function ev(over: Partial<ImEvent> = {}): ImEvent {
  return { id: 'e1', time: Date.now(), conn: 'c1', door: 'icap', groups: [], kind: 'http', ...over };
}
/** Verdict rule id for `event` under a policy with one rule `when` (then: block). */
function hit(when: Record<string, unknown>, event: ImEvent): boolean {
  const p = parsePolicy({ default: 'allow', rules: [{ id: 'r', when, then: 'block' }] }, null);
  return p.compiled.evaluate(event).rule === 'r';
}
function problemsOf(raw: unknown): string[] {
  try {
    parsePolicy(raw, 'p.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
/** Local-time epoch ms for a weekday (0=Sun) and HH:MM in a fixed week. */
function at(day: number, hh: number, mm: number): number {
  // 2024-01-07 is a Sunday.
  return new Date(2024, 0, 7 + day, hh, mm).getTime();
}

describe('policy evaluation', () => {
  test('empty policy applies the default', () => {
    expect(parsePolicy({}, null).compiled.evaluate(ev())).toEqual({ action: 'allow', rule: 'default' });
    expect(parsePolicy({ default: 'block' }, null).compiled.evaluate(ev())).toEqual({ action: 'block', rule: 'default' });
  });

  test('first match wins, in order', () => {
    const p = parsePolicy(
      {
        default: 'allow',
        rules: [
          { id: 'log-alice', when: { user: 'alice' }, then: 'log' },
          { id: 'block-host', when: { host: '*.evil.test' }, then: 'block' },
          { id: 'redact-all', when: {}, then: 'redact' },
        ],
      },
      null,
    );
    expect(p.compiled.evaluate(ev({ user: 'alice', host: 'x.evil.test' }))).toEqual({ action: 'log', rule: 'log-alice' });
    expect(p.compiled.evaluate(ev({ user: 'bob', host: 'x.evil.test' }))).toEqual({ action: 'block', rule: 'block-host' });
    expect(p.compiled.evaluate(ev({ user: 'bob' }))).toEqual({ action: 'redact', rule: 'redact-all' });
  });

  test('all conditions must hold (AND); each list is an OR', () => {
    const when = { user: ['alice', 'bob'], kind: 'http' };
    expect(hit(when, ev({ user: 'bob' }))).toBe(true);
    expect(hit(when, ev({ user: 'bob', kind: 'connection' }))).toBe(false);
    expect(hit(when, ev({ user: 'carol' }))).toBe(false);
    expect(hit(when, ev())).toBe(false);
  });

  test('kind and door', () => {
    expect(hit({ kind: ['message', 'file'] }, ev({ kind: 'file' }))).toBe(true);
    expect(hit({ kind: ['message', 'file'] }, ev({ kind: 'http' }))).toBe(false);
    expect(hit({ door: 'socks5' }, ev({ door: 'socks5' }))).toBe(true);
    expect(hit({ door: 'socks5' }, ev({ door: 'http' }))).toBe(false);
  });

  test('user and group globs, case-insensitive', () => {
    expect(hit({ user: 'ALICE' }, ev({ user: 'alice' }))).toBe(true);
    expect(hit({ user: 'adm-*' }, ev({ user: 'adm-jo' }))).toBe(true);
    expect(hit({ group: 'sales' }, ev({ groups: ['eng', 'Sales'] }))).toBe(true);
    expect(hit({ group: 'sales' }, ev({ groups: ['eng'] }))).toBe(false);
  });

  test('client_ip CIDRs, including mapped IPv6', () => {
    expect(hit({ client_ip: ['10.0.0.0/8'] }, ev({ clientIp: '10.1.2.3' }))).toBe(true);
    expect(hit({ client_ip: ['10.0.0.0/8'] }, ev({ clientIp: '::ffff:10.1.2.3' }))).toBe(true);
    expect(hit({ client_ip: ['fd00::/8'] }, ev({ clientIp: 'fd00::5' }))).toBe(true);
    expect(hit({ client_ip: ['10.0.0.0/8'] }, ev({ clientIp: '11.0.0.1' }))).toBe(false);
    expect(hit({ client_ip: ['10.0.0.0/8'] }, ev())).toBe(false);
  });

  test('protocol, app, direction, account, peer', () => {
    const e = ev({ kind: 'message', protocol: 'xmpp', app: 'jabber', direction: 'out', account: 'alice@corp.test', peer: 'eve@evil.test' });
    expect(hit({ protocol: 'xmpp' }, e)).toBe(true);
    expect(hit({ protocol: 'irc' }, e)).toBe(false);
    expect(hit({ app: 'jab*' }, e)).toBe(true);
    expect(hit({ direction: 'out' }, e)).toBe(true);
    expect(hit({ direction: 'in' }, e)).toBe(false);
    expect(hit({ account: '*@corp.test' }, e)).toBe(true);
    expect(hit({ peer: '*@evil.test' }, e)).toBe(true);
    expect(hit({ peer: '*@corp.test' }, e)).toBe(false);
  });

  test('host globs fall back to the destination host', () => {
    expect(hit({ host: '*.example.com' }, ev({ host: 'www.example.com' }))).toBe(true);
    expect(hit({ host: '*.example.com' }, ev({ kind: 'connection', destination: { host: 'chat.example.com', port: 5222 } }))).toBe(true);
    expect(hit({ host: '*.example.com' }, ev({ host: 'example.org' }))).toBe(false);
  });

  test('url_matches and text_matches regexes, with (?i)', () => {
    expect(hit({ url_matches: ['/upload\\b'] }, ev({ url: 'http://x/upload?a' }))).toBe(true);
    expect(hit({ url_matches: ['/upload\\b'] }, ev({ url: 'http://x/UPLOAD' }))).toBe(false);
    expect(hit({ url_matches: ['(?i)/upload\\b'] }, ev({ url: 'http://x/UPLOAD' }))).toBe(true);
    expect(hit({ text_matches: ['(?i)secret', '\\d{4}-\\d{4}'] }, ev({ text: 'TOP SECRET' }))).toBe(true);
    expect(hit({ text_matches: ['(?i)secret', '\\d{4}-\\d{4}'] }, ev({ text: 'card 1234-5678' }))).toBe(true);
    expect(hit({ text_matches: ['(?i)secret'] }, ev({ text: 'hello' }))).toBe(false);
    expect(hit({ text_matches: ['.*'] }, ev())).toBe(false);
  });

  test('compileRegex strips leading inline flags only', () => {
    expect(compileRegex('(?i)abc').flags).toBe('i');
    expect(compileRegex('(?is)a.c').flags).toBe('is');
    expect(compileRegex('(?i)abc').source).toBe('abc');
    expect(compileRegex('abc').flags).toBe('');
    expect(() => compileRegex('a(?i)b')).toThrow();
  });

  test('file_name and file_size_over', () => {
    const f = ev({ kind: 'file', file: { name: 'Report.EXE', size: 2_000_000 } });
    expect(hit({ file_name: ['*.exe', '*.bat'] }, f)).toBe(true);
    expect(hit({ file_name: ['*.pdf'] }, f)).toBe(false);
    expect(hit({ file_size_over: 1_000_000 }, f)).toBe(true);
    expect(hit({ file_size_over: 2_000_000 }, f)).toBe(false);
    expect(hit({ file_size_over: 0 }, ev())).toBe(false);
  });

  test('time windows, including one that wraps midnight', () => {
    const office = { time: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], between: '08:00-18:00' } };
    expect(hit(office, ev({ time: at(1, 9, 30) }))).toBe(true);
    expect(hit(office, ev({ time: at(1, 18, 0) }))).toBe(false);
    expect(hit(office, ev({ time: at(1, 7, 59) }))).toBe(false);
    expect(hit(office, ev({ time: at(6, 10, 0) }))).toBe(false);
    const night = { time: { days: ['fri'], between: '22:00-06:00' } };
    expect(hit(night, ev({ time: at(5, 23, 0) }))).toBe(true);
    expect(hit(night, ev({ time: at(6, 5, 59) }))).toBe(true);
    expect(hit(night, ev({ time: at(6, 6, 0) }))).toBe(false);
    expect(hit(night, ev({ time: at(5, 5, 0) }))).toBe(false);
    expect(hit({ time: [{ days: ['sun'] }, { between: '12:00-13:00' }] }, ev({ time: at(3, 12, 30) }))).toBe(true);
  });
});

describe('policy validation errors name the rule and key', () => {
  test('bad kind', () => {
    expect(problemsOf({ rules: [{ id: 'ok', then: 'allow' }, { id: 'no-chat', when: { kind: ['chat'] }, then: 'block' }] })).toEqual([
      'rules[1] (id "no-chat").when.kind[0]: expected one of login, message, file, presence, connection, http, unknown, got "chat"',
    ]);
  });
  test('bad action, unknown condition, missing id', () => {
    const problems = problemsOf({ rules: [{ id: 'x', when: { colour: 'red' }, then: 'drop' }, { then: 'allow' }] });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^rules\[0\] \(id "x"\)\.when\.colour: unknown key \(expected one of: kind, door, user, /),
        'rules[0] (id "x").then: expected one of allow, block, redact, log, got "drop"',
        'rules[1].id: expected a rule id (missing)',
      ]),
    );
  });
  test('bad regex, CIDR and time', () => {
    expect(problemsOf({ rules: [{ id: 're', when: { text_matches: ['ok', '(unclosed'] }, then: 'block' }] })[0]).toMatch(
      /^rules\[0\] \(id "re"\)\.when\.text_matches\[1\]: invalid regular expression "\(unclosed"/,
    );
    expect(problemsOf({ rules: [{ id: 'ip', when: { client_ip: '10.0.0.0/40' }, then: 'block' }] })[0]).toMatch(
      /^rules\[0\] \(id "ip"\)\.when\.client_ip: invalid CIDR "10.0.0.0\/40"/,
    );
    expect(problemsOf({ rules: [{ id: 't', when: { time: { between: '8-18' } }, then: 'block' }] })).toEqual([
      'rules[0] (id "t").when.time[0].between: expected "HH:MM-HH:MM" (24-hour local time), got "8-18"',
    ]);
  });
  test('duplicate ids and unknown top-level keys', () => {
    expect(problemsOf({ rules: [{ id: 'a', then: 'allow' }, { id: 'a', then: 'block' }] })).toEqual(['rules[1] (id "a").id: duplicate rule id']);
    expect(problemsOf({ default: 'allow', rulez: [] })).toEqual(['rulez: unknown key (expected one of: default, rules)']);
  });
});

describe('policy files, hash and ISTag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imgate-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test('a missing default policy file means allow-all; an explicit one is an error', () => {
    const p = loadPolicy(join(dir, 'absent.yaml'), false);
    expect(p.file).toBeNull();
    expect(p.compiled.evaluate(ev()).action).toBe('allow');
    expect(() => loadPolicy(join(dir, 'absent.yaml'), true)).toThrow(/file not found/);
  });

  test('the shipped conf/policy.yaml loads, and its commented examples are valid', () => {
    const shipped = join(__dirname, '../../../conf/policy.yaml');
    const p = loadPolicy(shipped);
    expect(p.doc.default).toBe('allow');
    const text = readFileSync(shipped, 'utf8');
    const examples = text.slice(text.indexOf('# Examples:')).split('\n').slice(1).map((l) => l.replace(/^#/, '')).join('\n');
    const ex = parsePolicy(parse(`default: allow\nrules:\n${examples}`), null);
    expect(ex.doc.rules.length).toBeGreaterThanOrEqual(3);
  });

  test('ISTag is stable for equal policies and changes with the policy', () => {
    const f = join(dir, 'p.yaml');
    writeFileSync(f, 'default: allow\nrules:\n  - { id: a, when: { host: x.test }, then: block }\n');
    const a = loadPolicy(f);
    writeFileSync(f, '# comment only changes\ndefault: allow\nrules:\n  - id: a\n    when:\n      host: [x.test]\n    then: block\n');
    const b = loadPolicy(f);
    expect(b.hash).toBe(a.hash);
    writeFileSync(f, 'default: allow\nrules:\n  - { id: a, when: { host: y.test }, then: block }\n');
    const c = loadPolicy(f);
    expect(c.hash).not.toBe(a.hash);

    const store = new PolicyStore(a);
    const tag1 = store.istag;
    expect(tag1).toMatch(/^IMG-[0-9a-f]{16}$/);
    expect(tag1.length).toBeLessThanOrEqual(30);
    store.replace(b);
    expect(store.istag).toBe(tag1);
    store.replace(c);
    expect(store.istag).not.toBe(tag1);
    expect(store.evaluate(ev({ host: 'y.test' })).rule).toBe('a');
    expect(computeIstag(c.hash, ['clamav-27000'])).not.toBe(computeIstag(c.hash));
  });
});
