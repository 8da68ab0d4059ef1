// The CLI as an operator runs it: node bin/imgate.js (compiled dist/, so run
// `npm run build` first). Exit codes, listening lines, SIGHUP, SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

jest.setTimeout(20000);

const REPO = resolve(__dirname, '../../..');
const BIN = join(REPO, 'bin/imgate.js');
const dir = mkdtempSync(join(tmpdir(), 'imgate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist/src/cli/main.js'))) throw new Error('dist/ missing: run "npm run build" first');
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 15000 });
}

const zeroPorts = (extra = '') =>
  `data_dir: ${join(dir, 'var')}\nicap: { listen: { port: 0 } }\nsocks5: { listen: { port: 0 } }\nhttp_proxy: { listen: { port: 0 } }\nadmin: { listen: { port: 0 } }\nshutdown: { drain_timeout_ms: 2000 }\n${extra}`;

/** Starts the daemon; resolves with its parsed stdout lines so far once `until` matches a line. */
function startDaemon(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buf = '';
  const waiters: Array<{ test: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.test(line)) w.resolve();
    }
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (test: (l: Record<string, unknown>) => boolean) =>
    new Promise<void>((resolveWait, reject) => {
      if (lines.some(test)) return resolveWait();
      const t = setTimeout(() => reject(new Error(`timed out; stdout: ${JSON.stringify(lines)} stderr: ${stderr}`)), 10000);
      waiters.push({ test, resolve: () => (clearTimeout(t), resolveWait()) });
    });
  return { child, lines, exited, waitFor, stderr: () => stderr };
}

test('--version prints the package version', () => {
  const r = run(['--version']);
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe((require(join(REPO, 'package.json')) as { version: string }).version);
});

test('check-config: OK summary and exit 0; errors and exit 2', () => {
  const good = join(dir, 'good.yaml');
  writeFileSync(good, zeroPorts());
  const ok = run(['check-config', '--config', good]);
  expect(ok.status).toBe(0);
  expect(ok.stdout).toMatch(/^config OK: .*good\.yaml; doors: icap 127\.0\.0\.1:0, socks5 .*policy \(default\)/);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'icap:\n  listen: { port: "abc" }\n  typo: 1\n');
  const r = run(['check-config', '--config', bad]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('icap.listen.port: expected an integer 0-65535, got "abc"');
  expect(r.stderr).toContain('icap.typo: unknown key');

  const badPolicy = join(dir, 'bad-policy.yaml');
  writeFileSync(badPolicy, 'rules:\n  - { id: r1, then: explode }\n');
  const p = run(['check-config', '--config', good, '--policy', badPolicy]);
  expect(p.status).toBe(2);
  expect(p.stderr).toContain('rules[0] (id "r1").then: expected one of allow, block, redact, log, got "explode"');
});

test('start: listening lines, SIGHUP reload, SIGTERM drains and exits 0', async () => {
  const cfg = join(dir, 'run.yaml');
  const policy = join(dir, 'policy.yaml');
  writeFileSync(cfg, zeroPorts());
  writeFileSync(policy, 'default: allow\nrules: []\n');
  const d = startDaemon(['start', '--config', cfg]);
  await d.waitFor((l) => l.msg === 'imgate started');
  for (const door of ['icap', 'socks5', 'http', 'admin']) {
    const l = d.lines.find((x) => x.msg === 'listening' && x.door === door);
    expect(l).toMatchObject({ level: 'info', address: '127.0.0.1' });
    expect(l?.port).toBeGreaterThan(0);
  }
  expect(existsSync(join(dir, 'var'))).toBe(true);

  writeFileSync(policy, 'default: allow\nrules:\n  - { id: x, when: { host: x.test }, then: block }\n');
  d.child.kill('SIGHUP');
  await d.waitFor((l) => l.msg === 'reloaded' && l.policyChanged === true);

  writeFileSync(policy, 'rules: [ { id: y, then: nope } ]\n');
  d.child.kill('SIGHUP');
  await d.waitFor((l) => l.msg === 'reload failed: keeping the running config and policy');

  d.child.kill('SIGTERM');
  expect(await d.exited).toBe(0);
  expect(d.lines.some((l) => l.msg === 'drained')).toBe(true);
});

test('start: a port in use exits 1 with a clear message; a bad config exits 2', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const cfg = join(dir, 'busy.yaml');
    writeFileSync(join(dir, 'policy.yaml'), 'default: allow\n');
    writeFileSync(cfg, zeroPorts().replace('socks5: { listen: { port: 0 } }', `socks5: { listen: { port: ${port} } }`));
    const d = startDaemon(['start', '--config', cfg]);
    expect(await d.exited).toBe(1);
    expect(d.stderr()).toContain(`socks5: cannot listen on 127.0.0.1:${port}: address already in use`);
  } finally {
    await new Promise((r) => blocker.close(r));
  }
  const bad = join(dir, 'bad-start.yaml');
  writeFileSync(bad, 'socks5: { auth: maybe }\n');
  const b = startDaemon(['start', '--config', bad]);
  expect(await b.exited).toBe(2);
  expect(b.stderr()).toContain('socks5.auth: expected one of none, userpass, got "maybe"');
});
