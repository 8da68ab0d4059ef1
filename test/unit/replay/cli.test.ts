// `imgate replay` end to end as an operator runs it: node bin/imgate.js
// (compiled dist/, so run `npm run build` first), JSON lines on stdout,
// warnings on stderr, exit codes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProtocolModule } from '../../../src/protocols/types';
import { runReplay } from '../../../src/replay/cli';
import { pcapFile, tcpFrame } from './helpers/build';

jest.setTimeout(30000);

const REPO = resolve(__dirname, '../../..');
const BIN = join(REPO, 'bin/imgate.js');
import { CAPTURES } from '../../captures';
const CAPS = CAPTURES;
const dir = mkdtempSync(join(tmpdir(), 'imgate-replay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist/src/replay/cli.js'))) throw new Error('dist/src/replay missing: run "npm run build" first');
});

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, 'replay', ...args], { cwd: dir, encoding: 'utf8', timeout: 20000 });
}

const lines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('node bin/imgate.js replay', () => {
  it('--connections prints one JSON line per TCP connection of a real capture', () => {
    const r = run([join(CAPS, 'chrissanders-msnms.pcap'), '--connections']);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    const conns = out.filter((l) => l.record === 'connection');
    expect(conns).toHaveLength(1);
    expect(conns[0]).toMatchObject({
      conn: 'tcp-0',
      client: '192.168.0.114:3331',
      server: '207.46.26.167:1863',
      orientedBy: 'syn',
      gaps: { c2s: 0, s2c: 0 },
    });
    expect(conns[0]).toMatchObject({ protocol: 'msnp' });
    // The switchboard login and the seven messages of the "suspect employee chat".
    const events = out.filter((l) => l.record === 'event');
    expect(events[0]).toMatchObject({ kind: 'login', protocol: 'msnp', account: 'tesla_brian@hotmail.com', door: 'replay' });
    const msgs = events.filter((e) => e.kind === 'message').map((e) => [e.direction, e.text]);
    expect(msgs).toEqual([
      ['out', 'Hey Brian'],
      ['in', 'Hey man, whats up?'],
      ['out', 'Not much, did you hear about the new IT guy they hired?'],
      ['in', 'ohh yea, i hear he is a real jerk'],
      ['out', "I've heard the same"],
      ['in', 'maybe we should try hacking into a server to mess with him?'],
      ['out', 'sounds good to me'],
    ]);
  });

  it('--policy decides replayed events: a rule on door replay blocks the hacking message', () => {
    const policy = join(dir, 'replay-policy.yaml');
    writeFileSync(policy, 'default: allow\nrules:\n  - id: no-hacking\n    when: { door: [replay], kind: message, text_matches: ["(?i)hacking"] }\n    then: block\n');
    const r = run([join(CAPS, 'chrissanders-msnms.pcap'), '--policy', policy]);
    expect(r.status).toBe(0);
    const blocked = lines(r.stdout).filter((l) => l.action === 'block');
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toMatchObject({ rule: 'no-hacking', text: 'maybe we should try hacking into a server to mess with him?' });
  });

  it('a synthetic capture: exact summary line', () => {
    const C = { src: '192.0.2.1', dst: '192.0.2.2', sport: 50000, dport: 7777 };
    const S = { src: '192.0.2.2', dst: '192.0.2.1', sport: 7777, dport: 50000 };
    const f = join(dir, 'one.pcap');
    writeFileSync(
      f,
      pcapFile(1, [
        { data: tcpFrame({ ...C, seq: 10, flags: 'S' }) },
        { data: tcpFrame({ ...S, seq: 90, ack: 11, flags: 'SA' }) },
        { data: tcpFrame({ ...C, seq: 11, ack: 91, flags: 'PA', data: '\x00\x01zzz-not-an-im' }) },
        { data: tcpFrame({ ...C, seq: 26, ack: 91, flags: 'FA' }) },
        { data: tcpFrame({ ...S, seq: 91, ack: 27, flags: 'FA' }) },
      ]),
    );
    const r = run([f, '--connections']);
    expect(r.status).toBe(0);
    const conns = lines(r.stdout).filter((l) => l.record === 'connection');
    expect(conns).toEqual([
      {
        record: 'connection',
        conn: 'tcp-0',
        client: '192.0.2.1:50000',
        server: '192.0.2.2:7777',
        protocol: 'unknown',
        fingerprint: Buffer.from('\x00\x01zzz-not-an-im').toString('hex'),
        orientedBy: 'syn',
        bytes: { c2s: 15, s2c: 0 },
        forwarded: { c2s: 0, s2c: 0 },
        injected: { c2s: 0, s2c: 0 },
        gaps: { c2s: 0, s2c: 0 },
        gapBytes: { c2s: 0, s2c: 0 },
        events: 0,
        tcp: 'fin',
        closed: 'fin',
      },
    ]);
    expect(r.stderr).toBe('');
  });

  it('without --connections only events are printed: the TLS ClientHello of Google Chat, classified by SNI', () => {
    const r = run([join(CAPS, 'ndpi-google_chat.pcapng')]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ record: 'event', protocol: 'tls', app: 'google-chat', kind: 'connection', detail: { sni: 'chat.google.com' } });
  });

  it('exit 1 for a missing file or a file that is not a capture; exit 2 for an invalid policy', () => {
    const missing = run([join(dir, 'nope.pcap')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
    const txt = join(dir, 'x.pcap');
    writeFileSync(txt, 'definitely not a capture');
    const notCap = run([txt]);
    expect(notCap.status).toBe(1);
    expect(notCap.stderr).toContain(`${txt}: offset 0: neither pcap nor pcapng`);
    const pol = join(dir, 'bad.yaml');
    writeFileSync(pol, 'default: maybe\nrules: []\n');
    const bad = run([join(CAPS, 'zeek-irc-basic.pcap'), '--policy', pol]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(pol);
  });

  it('a damaged capture still exits 0 and warns on stderr with the offset', () => {
    const { readFileSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
    const buf = readFileSync(join(CAPS, 'zeek-irc-basic.pcap'));
    const f = join(dir, 'cut.pcap');
    writeFileSync(f, buf.subarray(0, buf.length - 10));
    const r = run([f, '--connections']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^warning: .*cut\.pcap: offset \d+: capture truncated inside record 34; 33 complete records read$/m);
    expect(lines(r.stdout).filter((l) => l.record === 'connection')).toHaveLength(1);
  });
});

describe('runReplay with a policy (in process, with a test module)', () => {
  // Emits one message event per line the client sends.
  const lineModule: ProtocolModule = {
    name: 'lines',
    probe: () => 'match',
    create(ctx, out) {
      let acc = '';
      return {
        passthrough: false,
        push(from, chunk) {
          if (from === 'c2s') {
            acc += chunk.toString('latin1');
            let i: number;
            while ((i = acc.indexOf('\n')) >= 0) {
              const text = acc.slice(0, i).replace(/\r$/, '');
              acc = acc.slice(i + 1);
              const v = ctx.decide({ kind: 'message', side: 'c2s', protocol: 'irc', peer: '#brotest', text });
              if (v.action === 'redact') ctx.redact(text, v);
            }
          }
          out.forward(from, chunk);
        },
        end() {},
      };
    },
  };

  it('decides each event with the policy: block, redact, default', async () => {
    const pol = join(dir, 'policy.yaml');
    writeFileSync(
      pol,
      [
        'default: log',
        'rules:',
        '  - id: no-join',
        '    when: { kind: message, text_matches: ["^JOIN "] }',
        '    then: block',
        '  - id: mask-test',
        '    when: { kind: message, protocol: [irc], text_matches: ["test"] }',
        '    then: redact',
        '',
      ].join('\n'),
    );
    const out: string[] = [];
    const err: string[] = [];
    const code = await runReplay(join(CAPS, 'zeek-irc-basic.pcap'), { policy: pol, connections: true }, [lineModule], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    expect(code).toBe(0);
    const evs = out.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.record === 'event');
    const byText = (t: string) => evs.find((e) => e.text === t);
    expect(byText('JOIN #brotest')).toMatchObject({ action: 'block', rule: 'no-join', conn: 'tcp-0', protocol: 'irc', door: 'replay' });
    expect(byText('PRIVMSG #brotest test')).toMatchObject({ action: 'redact', rule: 'mask-test' });
    expect(byText('NICK brotest')).toMatchObject({ action: 'redact', rule: 'mask-test' });
    expect(byText('QUIT quitting')).toMatchObject({ action: 'log', rule: 'default' });
    expect(out.filter((l) => l.includes('"record":"connection"'))).toHaveLength(1);
  });
});
