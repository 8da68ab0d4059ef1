// Files crossing a tunnel, scanned and archived as they stream: the real AV
// service (a command scanner: node as the external program), the real file
// archive over a real SQLite store, the real policy engine. One 'file' event
// per transfer, with the verdict operators expect (file-transfer.ts header).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Metrics } from '../../../src/admin/metrics';
import { FileArchive } from '../../../src/audit/archive';
import { avSchema, createAvService, type AvService } from '../../../src/av';
import { parseYaml } from '../../../src/config';
import { TunnelSessionContext } from '../../../src/inspect';
import { FileTransfer, MAX_QUEUED, type FileDeps } from '../../../src/inspect/file-transfer';
import type { InspectSettings } from '../../../src/inspect/settings';
import '../../../src/inspect/file-data';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import type { EventDraft } from '../../../src/protocols/types';
import { openFileSink } from '../../../src/protocols/files/sink';
import { tempStore, type TempStore } from '../audit/helpers';

const SCRIPT = `const t=require('fs').readFileSync(process.argv[1],'latin1');
if(t.includes('BAD-MARKER')){console.log(process.argv[1]+': Unit.Bad FOUND');process.exit(1)}
process.exit(0)`;

type Line = Record<string, unknown>;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const facts = { conn: 'c1', door: 'socks5' as const, clientIp: '127.0.0.1', user: 'alice', destination: { host: '127.0.0.1', port: 5222 } };
const settings: InspectSettings = { enabled: true, probeMaxBytes: 512, probeTimeoutMs: 300, logTextMax: 4096, options: { starttls: 'pass', maxUnitBytes: 1 << 20 } };
const draft: EventDraft = { kind: 'file', side: 'c2s', protocol: 'xmpp', account: 'alice@imgate.test', peer: 'bob@imgate.test', file: { name: 'plan.pdf' }, detail: { via: 'ibb', sid: 's1' } };

let ts: TempStore;
let av: AvService;
let archive: FileArchive;
let lines: Line[];

function deps(opts: { av?: boolean; archive?: boolean } = {}): FileDeps {
  lines = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  const d: FileDeps = {
    policy: new PolicyStore(parsePolicy(parseYaml('default: allow\nrules: []\n', null), null)),
    metrics: new Metrics({ defaultMetrics: false }),
    logger: pino({ level: 'debug' }, sink),
  };
  if (opts.av !== false) d.av = () => av;
  if (opts.archive !== false) d.archiveFile = (c, m) => archive.putStream(c, m);
  return d;
}

const fileEvents = () => lines.filter((l) => l.msg === 'im event' && l.kind === 'file');

beforeAll(async () => {
  ts = await tempStore();
  const dataDir = path.join(ts.dir, 'var');
  av = createAvService(avSchema.parse({ scanners: [{ name: 'cmd', type: 'command', command: process.execPath, args: ['-e', SCRIPT, '{}'] }], spool_threshold_bytes: 4096 }), { logger: pino({ level: 'silent' }), dataDir });
  archive = await FileArchive.open(dataDir, ts.store, { enabled: true, maxFileBytes: 1 << 30, maxTotalBytes: 1 << 30 }, pino({ level: 'silent' }));
});
afterAll(async () => {
  await av.close();
  await ts.done();
});

/** Writes `file` in chunks of `n` bytes, honouring backpressure like the DCC relay does. */
async function stream(t: FileTransfer, file: Buffer, n = 1000): Promise<void> {
  for (let i = 0; i < file.length; i += n) {
    if (!t.write(file.subarray(i, i + n))) await new Promise<void>((r) => t.onDrain(r));
  }
}

test('a clean file: allow, exact size and sha256, scanned, archived byte-identical', async () => {
  const file = crypto.randomBytes(50_000); // past the spool threshold: scanned from disk
  const t = new FileTransfer(deps(), facts, settings, { ...draft, file: { name: 'plan.pdf', size: file.length } });
  await stream(t, file);
  t.end(true);
  await t.done;
  const ev = fileEvents()[0] as Line;
  expect(ev).toMatchObject({ action: 'allow', protocol: 'xmpp', file: { name: 'plan.pdf', size: file.length, sha256: sha(file) }, detail: { transfer: 'complete', scanner: 'cmd', via: 'ibb' } });
  const stored = (ev.detail as Line).stored_path as string;
  expect(stored).toBe(path.join('files', sha(file).slice(0, 2), sha(file)));
  expect(fs.readFileSync(path.join(ts.dir, 'var', stored)).equals(file)).toBe(true);
  expect(await ts.store.file(sha(file))).toMatchObject({ name: 'plan.pdf', size: file.length, stored_path: stored });
});

test('an infected file: block by av:<scanner> with the signature, caller told, nothing archived', async () => {
  const file = Buffer.concat([crypto.randomBytes(9000), Buffer.from('BAD-MARKER'), crypto.randomBytes(100)]);
  const blocked: string[] = [];
  const t = new FileTransfer(deps(), facts, settings, draft, { onBlock: (why) => blocked.push(why) });
  await stream(t, file);
  t.end(true);
  await t.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'block', rule: 'av:cmd', file: { sha256: sha(file), size: file.length }, detail: { signature: 'Unit.Bad', scanner: 'cmd' } });
  expect(blocked[0]).toContain('infected: Unit.Bad');
  expect(await ts.store.file(sha(file))).toBeNull();
  expect(fs.existsSync(path.join(ts.dir, 'var', 'files', sha(file).slice(0, 2), sha(file)))).toBe(false);
});

test('a producer that ignores backpressure is cut off: the file counts as not scanned (fail-closed)', async () => {
  const t = new FileTransfer(deps(), facts, settings, draft, {});
  const chunk = crypto.randomBytes(1 << 20);
  // Synchronous writes: the scanner side never gets to read in between.
  for (let i = 0; i < MAX_QUEUED / chunk.length + 2; i++) t.write(chunk);
  t.end(true);
  await t.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'block', detail: { fail_open: false } });
  expect(String((fileEvents()[0]?.detail as Line).scan_error)).toContain('behind');
});

test('no scanner: archived and recorded; no archive either: hashed only', async () => {
  const file = crypto.randomBytes(3000);
  const t = new FileTransfer(deps({ av: false }), facts, settings, draft);
  await stream(t, file);
  t.end(false);
  await t.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'allow', file: { sha256: sha(file), size: 3000 }, detail: { transfer: 'partial' } });
  expect((await ts.store.file(sha(file)))?.stored_path).toBeTruthy();

  const t2 = new FileTransfer(deps({ av: false, archive: false }), facts, settings, draft);
  t2.write(Buffer.from('x'));
  t2.end(true);
  await t2.done;
  expect(fileEvents()[0]).toMatchObject({ file: { size: 1, sha256: sha(Buffer.from('x')) }, detail: { transfer: 'complete' } });
});

test("the tunnel's session context offers dissectors the scanning sink", async () => {
  // As createInspector wires it: the context's openFile starts a FileTransfer.
  const d = deps();
  const ctx = new TunnelSessionContext({ ...d, openFile: (f, s, dr) => new FileTransfer(d, f, s, dr) }, facts, settings, 'xmpp');
  const sink = openFileSink(ctx, draft);
  expect(sink).toBeInstanceOf(FileTransfer);
  sink.write(Buffer.from('BAD-MARKER'));
  sink.end(true);
  await (sink as FileTransfer).done;
  expect(fileEvents()[0]).toMatchObject({ action: 'block', rule: 'av:cmd', detail: { signature: 'Unit.Bad' } });
});
