// Expected data connections (src/inspect/file-data.ts) as the data phase
// starts them, over real loopback sockets with a real AV service (a command
// scanner: node as the external program):
//  - inspect.file_hold_back_bytes reaches the FileTransfer and the held relay
//    (0 = nothing held: an infected file streams through whole, its event
//    still names the signature);
//  - an OSCAR OFT data connection whose framing breaks is logged once as a
//    structured warn line and its file event carries the reason.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../../src/admin/metrics';
import { avSchema, createAvService, type AvService } from '../../../src/av';
import { parseYaml } from '../../../src/config';
import { startFileData } from '../../../src/inspect/file-data';
import { FileTransfer, holdBackOf, type FileDeps } from '../../../src/inspect/file-transfer';
import type { InspectSettings } from '../../../src/inspect/settings';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { OftPayload } from '../../../src/protocols/oscar/oft';
import type { EventDraft, ExpectedConnection } from '../../../src/protocols/types';
import type { TunnelHandle } from '../../../src/relay/relay';

const SCRIPT = `const t=require('fs').readFileSync(process.argv[1],'latin1');
if(t.includes('BAD-MARKER')){console.log(process.argv[1]+': Unit.Bad FOUND');process.exit(1)}process.exit(0)`;

type Line = Record<string, unknown>;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const facts = { conn: 'c9', door: 'socks5' as const, clientIp: '127.0.0.1', user: 'alice', destination: { host: '127.0.0.1', port: 5000 } };
const base: InspectSettings = { enabled: true, probeMaxBytes: 512, probeTimeoutMs: 300, logTextMax: 4096, options: { starttls: 'pass', maxUnitBytes: 1 << 20 } };

let dir: string;
let service: AvService;
let lines: Line[] = [];
const servers: net.Server[] = [];
const socks = new Set<net.Socket>();

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgate-file-data-'));
  service = createAvService(
    avSchema.parse({ scanners: [{ name: 'cmd', type: 'command', command: process.execPath, args: ['-e', SCRIPT, '{}'], fail: 'closed' }], cache: { max_entries: 0 } }),
    { logger: pino({ level: 'silent' }), dataDir: dir },
  );
});

afterAll(async () => {
  for (const s of socks) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await service.close?.();
  fs.rmSync(dir, { recursive: true, force: true });
});

function deps(av: AvService | null, over: Partial<FileDeps> = {}): FileDeps {
  lines = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return {
    policy: new PolicyStore(parsePolicy(parseYaml('default: allow\nrules: []\n', null), null)),
    metrics: new Metrics({ defaultMetrics: false }),
    logger: pino({ level: 'info' }, sink),
    av: () => av,
    ...over,
  };
}

function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    s.on('error', () => undefined);
    onConn(s);
  });
  servers.push(srv);
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as net.AddressInfo).port)));
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socks.add(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** offerer --(upstream)--> startFileData --(client)--> receiver; resolves with what the receiver got. */
async function transfer(d: FileDeps, settings: InspectSettings, wire: Buffer, expected: ExpectedConnection) {
  const offerer = await listen((s) => s.end(wire));
  const parts: Buffer[] = [];
  let gotResolve: (b: Buffer) => void = () => undefined;
  const got = new Promise<Buffer>((r) => (gotResolve = r));
  const receiver = await listen((s) => {
    s.on('data', (b: Buffer) => parts.push(b));
    s.once('close', () => gotResolve(Buffer.concat(parts)));
    s.once('end', () => s.end());
  });
  const [upstream, client] = await Promise.all([connect(offerer), connect(receiver)]);
  const fails: string[] = [];
  const t: TunnelHandle = {
    req: { id: facts.conn, door: 'socks5', mode: 'connect', client: { address: '127.0.0.1', port: 1 }, user: 'alice', destination: { host: '127.0.0.1', port: offerer, type: 'ipv4' } },
    client,
    upstream,
    head: Buffer.alloc(0),
    clientIp: '127.0.0.1',
    fail: (why) => {
      fails.push(why);
      client.destroy();
      upstream.destroy();
    },
  };
  const ft = startFileData(d, t, facts, settings, expected);
  return { got, fails, ft };
}

const draft = (protocol: string, name: string, size?: number): EventDraft => ({ kind: 'file', side: 's2c', protocol, account: 'alice', peer: 'bob', file: { name, ...(size !== undefined ? { size } : {}) } });
const allow = { action: 'allow' as const, rule: 'default' };
const fileEvents = (): Line[] => lines.filter((l) => l.msg === 'im event' && l.kind === 'file');

describe('file_hold_back_bytes reaches the tunnel file relay', () => {
  test('the transfer states the configured hold-back; 0 or no scanner holds nothing; a bound applies', async () => {
    const draftIrc = draft('irc', 'f.bin');
    const made: FileTransfer[] = [];
    const holdOf = (av: AvService | null, settings: InspectSettings): number => {
      const t = new FileTransfer(deps(av), facts, settings, draftIrc);
      made.push(t);
      return t.holdBackBytes;
    };
    expect(holdOf(service, base)).toBe(8192);
    expect(holdOf(service, { ...base, fileHoldBackBytes: 65_536 })).toBe(65_536);
    expect(holdOf(service, { ...base, fileHoldBackBytes: 0 })).toBe(0);
    expect(holdOf(null, { ...base, fileHoldBackBytes: 65_536 })).toBe(0);
    // Recorded before the next test reads the log lines.
    for (const t of made) t.end(false);
    await Promise.all(made.map((t) => t.done));
    expect(holdBackOf(deps(service), { ...base, fileHoldBackBytes: 1 << 30 })).toBe(16 * 1024 * 1024);
    expect(holdBackOf(deps(service, { holdBackBytes: 100 }), { ...base, fileHoldBackBytes: 5 })).toBe(100);
  });

  test('a raw DCC connection: 64 KiB held means an infected file is cut at least 64 KiB short; 0 lets it through whole (still recorded as infected)', async () => {
    const file = Buffer.concat([crypto.randomBytes(100_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(100_000)]);
    const expected = { event: draft('irc', 'big.bin', file.length), offer: allow };

    const held = await transfer(deps(service), { ...base, fileHoldBackBytes: 65_536 }, file, expected);
    const got = await held.got;
    expect(got.length).toBeLessThanOrEqual(file.length - 65_536);
    expect(held.fails[0]).toContain('Unit.Bad');

    const off = await transfer(deps(service), { ...base, fileHoldBackBytes: 0 }, file, expected);
    expect(sha(await off.got)).toBe(sha(file));
    await off.ft.done;
    expect(fileEvents()[0]).toMatchObject({ action: 'block', rule: 'av:cmd', file: { name: 'big.bin', size: file.length, sha256: sha(file) }, detail: { signature: 'Unit.Bad' } });
  }, 20_000);
});

describe('an OFT data connection whose framing breaks', () => {
  test('one structured warn line with conn/client/user/protocol and the reason; the file event is partial and carries it', async () => {
    // An OFT2 header of type 0x0204 (done) where the sender's prompt belongs.
    const header = Buffer.alloc(256);
    header.write('OFT2', 0, 'latin1');
    header.writeUInt16BE(256, 4);
    header.writeUInt16BE(0x0204, 6);
    const wire = Buffer.concat([header, crypto.randomBytes(5000)]);
    const expected: ExpectedConnection = { event: draft('oscar', 'photo.jpg', 5000), offer: allow, payload: () => new OftPayload() };
    const r = await transfer(deps(service), base, wire, expected);
    // Nothing is held before the first file byte: the wire passes unchanged.
    expect((await r.got).equals(wire)).toBe(true);
    await r.ft.done;
    const warns = lines.filter((l) => l.msg === 'file data connection: framing failed');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 40, conn: 'c9', client: '127.0.0.1', user: 'alice', protocol: 'oscar', file: 'photo.jpg', reason: "OFT2 type 0x0204 where the sender's prompt was expected" });
    expect(fileEvents()).toHaveLength(1);
    expect(fileEvents()[0]).toMatchObject({ protocol: 'oscar', file: { size: 0 }, detail: { transfer: 'partial', framing: 'failed', framing_failure: "OFT2 type 0x0204 where the sender's prompt was expected" } });
  }, 20_000);
});
