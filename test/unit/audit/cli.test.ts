// `imgate search | files | report | export` as an operator runs them:
// node bin/imgate.js (compiled dist/: run `npm run build` first) against a
// store filled through the store API, the writer still open (WAL).
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { SqliteStore } from '../../../src/audit/sqlite';
import { rec, spawnCompiled, tempDir } from './helpers';

jest.setTimeout(30000);

const REPO = resolve(__dirname, '../../..');
const BIN = join(REPO, 'bin/imgate.js');
const t = tempDir();
const conf = join(t.dir, 'imgate.yaml');
let store: SqliteStore;
const NOW = Date.now();

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist/src/audit/cli.js'))) throw new Error('dist/ missing: run "npm run build" first');
  writeFileSync(conf, `data_dir: ${join(t.dir, 'var')}\n`);
  // The real writer thread (compiled, as the gateway runs it) fills the store.
  store = await SqliteStore.open(join(t.dir, 'var', 'imgate.db'), { writer: 'thread', spawn: spawnCompiled });
  await store.writeBatch([
    rec({ time: NOW - 3 * 86_400_000, user: 'alice', account: 'alice', peer: '#imgate', text: 'old quarterly talk' }),
    rec({ time: NOW - 60_000, user: 'alice', account: 'alice', peer: '#imgate', text: 'hello from alice' }),
    rec({ time: NOW - 50_000, user: 'alice', account: 'alice', peer: '#imgate', text: 'the plans for Project Falcon are ready' }, { action: 'block', rule: 'no-falcon' }),
    rec({ time: NOW - 40_000, user: 'alice', account: 'alice', peer: '#imgate', text: 'card 4111 1111 1111 1111' }, { action: 'redact', rule: 'mask-cards' }),
    rec({ time: NOW - 30_000, user: 'bob', account: 'bob@example.org', peer: 'alice@example.org', protocol: 'xmpp', text: 'hello "quoted" text:colon (paren) NEAR end*' }),
    rec({ time: NOW - 20_000, user: 'bob', account: 'bob@example.org', peer: 'alice@example.org', protocol: 'xmpp', kind: 'file', text: undefined, file: { name: 'report.pdf', size: 4242, sha256: 'cd'.repeat(32) } }, { action: 'block', rule: 'no-pdf' }),
    rec({ time: NOW - 10_000, user: 'carol', protocol: 'http', app: 'slack', kind: 'file', text: undefined, peer: 'C123', file: { name: 'evil\u001b[2J.txt', size: 1 } }),
  ]);
});
afterAll(async () => {
  await store.close();
  t.done();
});

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args, '--config', conf], { encoding: 'utf8', timeout: 15000 });
}
const jsonLines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('imgate search', () => {
  test('finds messages with their user, account, peer and verdict (JSON)', () => {
    const r = run(['search', 'falcon', '--json']);
    expect(r.status).toBe(0);
    expect(jsonLines(r.stdout)).toEqual([
      expect.objectContaining({ user: 'alice', account: 'alice', peer: '#imgate', protocol: 'irc', text: 'the plans for Project Falcon are ready', action: 'block', rule: 'no-falcon' }),
    ]);
  });

  test('a human table by default', () => {
    const r = run(['search', 'hello']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+USER\s+PROTOCOL\s+DIR\s+ACCOUNT\s+PEER\s+KIND\s+ACTION\s+RULE\s+TEXT$/);
    expect(lines.filter((l) => /hello from alice/.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toBe('2 event(s)');
  });

  test('filters: --user, --account, --protocol, --since (relative and ISO), --until, --limit', () => {
    expect(jsonLines(run(['search', 'hello', '--user', 'bob', '--json']).stdout)).toHaveLength(1);
    expect(jsonLines(run(['search', '', '--account', 'alice@example.org', '--json']).stdout)).toHaveLength(2);
    expect(jsonLines(run(['search', '', '--protocol', 'slack', '--json']).stdout)).toHaveLength(1);
    expect(jsonLines(run(['search', 'quarterly', '--json']).stdout)).toHaveLength(1);
    expect(run(['search', 'quarterly', '--since', '1d', '--json']).stdout).toBe('');
    expect(jsonLines(run(['search', 'quarterly', '--since', new Date(NOW - 4 * 86_400_000).toISOString(), '--until', '2d', '--json']).stdout)).toHaveLength(1);
    expect(jsonLines(run(['search', '', '--limit', '2', '--json']).stdout)).toHaveLength(2);
  });

  test('FTS syntax in the search text is literal: no error, no injection', () => {
    for (const s of ['"', 'text:colon', '(paren', 'NEAR', 'end*', '"quoted" OR falcon', "x' OR 1=1 --", '*']) {
      const r = run(['search', s, '--json']);
      expect({ s, status: r.status, stderr: r.stderr }).toEqual({ s, status: 0, stderr: '' });
    }
    expect(jsonLines(run(['search', 'text:colon', '--json']).stdout).map((e) => e.user)).toEqual(['bob']);
    expect(run(['search', '"quoted" OR falcon', '--json']).stdout).toBe('');
  });

  test('bad arguments exit 2 with a message; a missing store exits 1', () => {
    const bad = run(['search', 'x', '--since', 'yesterday-ish']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad time "yesterday-ish"/);
    expect(run(['search', 'x', '--limit', '0']).status).toBe(2);
    const other = join(t.dir, 'empty.yaml');
    writeFileSync(other, `data_dir: ${join(t.dir, 'nothing-here')}\n`);
    const r = spawnSync(process.execPath, [BIN, 'search', 'x', '--config', other], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no record store at .*nothing-here/);
  });
});

describe('imgate files', () => {
  test('lists transferred files; --name globs; control characters never reach the terminal', () => {
    const r = run(['files']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/report\.pdf\s+4242\s+cdcdcdcdcdcdcdcd\s+block/);
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).toContain('evil [2J.txt');
    expect(jsonLines(run(['files', '--name', '*.PDF', '--json']).stdout)).toEqual([
      expect.objectContaining({ name: 'report.pdf', size: 4242, sha256: 'cd'.repeat(32), user: 'bob', account: 'bob@example.org', peer: 'alice@example.org', action: 'block' }),
    ]);
  });
});

describe('imgate report', () => {
  test('per user and per protocol/app: messages, files, blocks, top peers', () => {
    const r = run(['report', '--since', '1d', '--json']);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout) as { total: unknown; by_user: Array<Record<string, unknown>>; by_protocol: Array<Record<string, unknown>> };
    expect(rep.total).toEqual({ events: 6, messages: 4, files: 2, blocks: 2 });
    expect(rep.by_user).toEqual(
      expect.arrayContaining([
        { key: 'alice', events: 3, messages: 3, files: 0, blocks: 1, top_peers: [{ peer: '#imgate', count: 3 }] },
        { key: 'bob', events: 2, messages: 1, files: 1, blocks: 1, top_peers: [{ peer: 'alice@example.org', count: 2 }] },
      ]),
    );
    expect(rep.by_protocol.map((l) => l.key).sort()).toEqual(['http/slack', 'irc', 'xmpp']);
    const human = run(['report']);
    expect(human.stdout).toMatch(/^From the beginning to now: 7 events, 5 messages, 2 files, 2 blocked/);
    expect(human.stdout).toMatch(/\nalice\s+4\s+4\s+0\s+1\s+#imgate \(4\)\n/);
  });
});

describe('imgate export', () => {
  test('JSON lines, oldest first, every field', () => {
    const r = run(['export', '--since', '1d']);
    expect(r.status).toBe(0);
    const rows = jsonLines(r.stdout);
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatchObject({ text: 'hello from alice', user: 'alice', door: 'socks5', action: 'allow', time: new Date(NOW - 60_000).toISOString() });
  });

  test('RFC 5424 over UDP: one datagram per event, fields as structured data', async () => {
    const sock = createSocket('udp4');
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const port = (sock.address() as AddressInfo).port;
    const code = await new Promise<number | null>((res) => spawn(process.execPath, [BIN, 'export', '--since', '1d', '--syslog', `udp://127.0.0.1:${port}`, '--config', conf]).on('exit', res));
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    expect(code).toBe(0);
    expect(got).toHaveLength(6);
    const falcon = got.find((l) => l.includes('Falcon')) as string;
    expect(falcon).toMatch(/^<132>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ imgate - message \[imgate@32473 /);
    expect(falcon).toContain('user="alice"');
    expect(falcon).toContain('action="block" rule="no-falcon"');
    const quoted = got.find((l) => l.includes('quoted')) as string;
    expect(quoted).toContain('text="hello \\"quoted\\" text:colon (paren) NEAR end*"');
  });

  test('RFC 5424 over TCP with octet-counting framing', async () => {
    const chunks: Buffer[] = [];
    const server = createServer((s) => s.on('data', (d) => chunks.push(d)));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    const port = (server.address() as AddressInfo).port;
    const r = await new Promise<number | null>((res) => spawn(process.execPath, [BIN, 'export', '--syslog', `tcp://127.0.0.1:${port}`, '--config', conf]).on('exit', res));
    await new Promise((res) => setTimeout(res, 100));
    server.close();
    expect(r).toBe(0);
    // Parse the frames: "LEN SP MSG", LEN in bytes.
    let buf = Buffer.concat(chunks);
    const msgs: string[] = [];
    while (buf.length) {
      const sp = buf.indexOf(0x20);
      const len = Number(buf.subarray(0, sp).toString());
      msgs.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
    expect(msgs).toHaveLength(7);
    expect(msgs.every((m) => /^<1(32|34)>1 /.test(m))).toBe(true);
    expect(msgs.filter((m) => m.includes('file_name="report.pdf"'))).toHaveLength(1);
  });
});
