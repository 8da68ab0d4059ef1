// Any upload or download crossing the ICAP door with AV on: held (memory,
// then disk past the spool threshold), scanned through the real AV service
// (an external-command scanner flagging a marker), then passed on unchanged
// or answered with the block page; an infected file is an event naming the
// signature. Bodies here are larger than the spool threshold, and one is
// larger than the ICAP replay buffer, so the held copy is what goes on.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import type { IcapVerdict } from '../../../icap/types';
import { avSchema, createAvService, type AvService } from '../../../src/av';
import { RESPMOD_HOLD_MAX, TRICKLE_HOLD_BACK_BYTES, transferName } from '../../../src/web/transfer';
import { head, harness, imEvents, reqmodRequest, respmodRequest } from './helpers';

const MARK = 'IMGATE-AV-TEST-MARKER';
let av: AvService;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webim-transfer-'));
  const script = `if grep -q ${MARK} "$1"; then echo Imgate.Test.Marker; exit 1; fi; exit 0`;
  const cfg = avSchema.parse({
    scanners: [{ name: 'marker', type: 'command', command: '/bin/sh', args: ['-c', script, 'scan', '{}'] }],
    spool_threshold_bytes: 64 * 1024,
    max_scan_bytes: 8 * 1024 * 1024,
  });
  av = createAvService(cfg, { logger: pino({ level: 'silent' }), dataDir: dir });
});

afterAll(async () => {
  await av.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const POLICY = { default: 'allow', rules: [] };
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

function noise(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = 0x41 + ((x >>> 24) % 26);
  }
  return b;
}

async function drain(s: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}

function spoolFiles(): string[] {
  const d = path.join(dir, 'av-spool');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

function blockedHtml(v: IcapVerdict): string {
  if (v.kind !== 'block') throw new Error(`expected block, got ${v.kind}`);
  expect(v.response.startLine).toBe('HTTP/1.1 403 Forbidden');
  return v.body?.toString() ?? '';
}

test('a 3 MiB raw upload with the marker in the middle is blocked with the block page; the event names file and signature', async () => {
  const h = harness(POLICY, { av });
  const body = Buffer.concat([noise(1_500_000), Buffer.from(MARK), noise(1_500_000, 9)]);
  const req = reqmodRequest({ method: 'PUT', url: 'http://files.example/up/payload.bin', headers: [['Accept', 'text/html']], body });
  const page = blockedHtml(await h.reqmod.handle(req));
  expect(page).toContain('Blocked by imgate');
  expect(page).toContain('av:marker');
  expect(imEvents(h)).toEqual([
    expect.objectContaining({ kind: 'file', action: 'block', rule: 'av:marker', file: { name: 'payload.bin', size: body.length, sha256: sha(body) }, detail: { scanner: 'marker', signature: 'Imgate.Test.Marker' } }),
  ]);
  expect(spoolFiles()).toEqual([]);
});

test('a clean 3 MiB upload without Allow: 204 is passed on from the held copy, byte-identical', async () => {
  const h = harness(POLICY, { av });
  const body = noise(3 * 1024 * 1024);
  const req = { ...reqmodRequest({ method: 'POST', url: 'http://files.example/up', headers: [['Content-Type', 'application/octet-stream']], body, chunk: 16_384 }), allow204: false };
  const v = await h.reqmod.handle(req);
  if (v.kind !== 'modify' || v.body === undefined || v.body === null || Buffer.isBuffer(v.body) || v.body === 'original') throw new Error(`expected a streamed modify, got ${JSON.stringify(v)}`);
  expect(v.request).toBeUndefined();
  const out = await drain(v.body);
  expect(sha(out)).toBe(sha(body));
  await new Promise((r) => setTimeout(r, 50));
  expect(spoolFiles()).toEqual([]);
  // Scanned clean: on record as an allowed file event with the scanner's name.
  const ev = imEvents(h);
  expect(ev).toHaveLength(1);
  expect(ev[0]).toMatchObject({ kind: 'file', direction: 'out', action: 'allow', rule: 'av:clean', file: { name: 'up', size: body.length, sha256: sha(body) }, detail: { scanner: 'marker', cached: false } });
});

test('with Allow: 204 a clean upload is a plain allow (Squid keeps its copy); an empty body is no file and no event', async () => {
  const h = harness(POLICY, { av });
  const v = await h.reqmod.handle(reqmodRequest({ url: 'http://files.example/up', body: noise(200_000) }));
  expect(v).toEqual({ kind: 'allow' });
  expect(imEvents(h)).toHaveLength(1);
  const empty = await h.reqmod.handle(reqmodRequest({ url: 'http://files.example/none', body: Buffer.alloc(0) }));
  expect(empty).toEqual({ kind: 'allow' });
  expect(imEvents(h)).toHaveLength(1);
});

test('a large multipart upload: each file part is scanned on its own and the infected one is named', async () => {
  const h = harness(POLICY, { av });
  const B = 'bNd7';
  const body = Buffer.concat([
    Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--${B}\r\nContent-Disposition: form-data; name="a"; filename="clean.bin"\r\n\r\n`),
    noise(400_000),
    Buffer.from(`\r\n--${B}\r\nContent-Disposition: form-data; name="b"; filename="evil.doc"\r\nContent-Type: application/msword\r\n\r\n`),
    noise(300_000, 3),
    Buffer.from(MARK),
    Buffer.from(`\r\n--${B}--\r\n`),
  ]);
  const v = await h.reqmod.handle(reqmodRequest({ url: 'http://upload.example/form', headers: [['Content-Type', `multipart/form-data; boundary=${B}`], ['Accept', 'application/json']], body, chunk: 10_000 }));
  if (v.kind !== 'block') throw new Error(`expected block, got ${v.kind}`);
  expect(JSON.parse(v.body?.toString() ?? '')).toMatchObject({ error: 'blocked by imgate', rule: 'av:marker' });
  // The clean part was scanned first and is on record as allowed; the infected one blocks.
  const ev = imEvents(h);
  expect(ev).toHaveLength(2);
  expect(ev[0]).toMatchObject({ kind: 'file', action: 'allow', rule: 'av:clean', file: { name: 'clean.bin', size: 400_000 } });
  expect(ev[1]).toMatchObject({ kind: 'file', action: 'block', file: { name: 'evil.doc', size: 300_000 + MARK.length }, detail: { signature: 'Imgate.Test.Marker' } });
});

test('an infected download (RESPMOD, within what Squid lets us hold) is replaced by the block page; a clean one passes', async () => {
  const h = harness(POLICY, { av });
  const bad = await h.respmod.handle(
    respmodRequest({ url: 'http://dl.example/get?id=1', headers: [['Content-Type', 'application/pdf'], ['Content-Disposition', 'attachment; filename="invoice.pdf"']], body: Buffer.concat([noise(40_000), Buffer.from(MARK)]) }),
  );
  expect(blockedHtml(bad)).toContain('Blocked by imgate');
  expect(imEvents(h)[0]).toMatchObject({ direction: 'in', kind: 'file', file: { name: 'invoice.pdf' }, detail: { signature: 'Imgate.Test.Marker' } });
  const good = await h.respmod.handle(respmodRequest({ url: 'http://dl.example/clean.txt', body: noise(40_000) }));
  expect(good).toEqual({ kind: 'allow' });
  expect(imEvents(h)[1]).toMatchObject({ direction: 'in', kind: 'file', action: 'allow', rule: 'av:clean', file: { name: 'clean.txt', size: 40_000 } });
});

test('a download larger than RESPMOD_HOLD_MAX is trickled: the scan side gets every byte, an infected one is cut (event names the signature), a clean one passes', async () => {
  const h = harness(POLICY, { av });
  const bad = Buffer.concat([noise(RESPMOD_HOLD_MAX + 1), Buffer.from(MARK)]);
  const v = await h.respmod.handle(respmodRequest({ url: 'http://dl.example/big.iso', body: bad }));
  if (v.kind !== 'trickle') throw new Error(`expected trickle, got ${v.kind}`);
  expect(v.holdBackBytes).toBe(TRICKLE_HOLD_BACK_BYTES);
  v.sink.end(bad);
  expect(await v.decision).toBe('abort');
  expect(imEvents(h)[0]).toMatchObject({ direction: 'in', kind: 'file', action: 'block', rule: 'av:marker', file: { name: 'big.iso', size: bad.length, sha256: sha(bad) }, detail: { signature: 'Imgate.Test.Marker' } });
  const good = noise(RESPMOD_HOLD_MAX * 3);
  const g = await h.respmod.handle(respmodRequest({ url: 'http://dl.example/clean.iso', body: good }));
  if (g.kind !== 'trickle') throw new Error(`expected trickle, got ${g.kind}`);
  g.sink.end(good);
  expect(await g.decision).toBe('pass');
  const ev = imEvents(h);
  expect(ev).toHaveLength(2);
  expect(ev[1]).toMatchObject({ direction: 'in', kind: 'file', action: 'allow', rule: 'av:clean', file: { name: 'clean.iso', size: good.length, sha256: sha(good) }, detail: { scanner: 'marker' } });
  expect(spoolFiles()).toEqual([]);
});

test('a Matrix media upload larger than the inspection limit is scanned and blocked with M_FORBIDDEN', async () => {
  const h = harness(POLICY, { av });
  const body = Buffer.concat([noise(3_000_000), Buffer.from(MARK)]);
  const v = await h.reqmod.handle(reqmodRequest({ url: 'https://matrix.org/_matrix/media/v3/upload?filename=holiday.png', headers: [['Content-Type', 'image/png']], body }));
  if (v.kind !== 'block') throw new Error(`expected block, got ${v.kind}`);
  expect(JSON.parse(v.body?.toString() ?? '')).toMatchObject({ errcode: 'M_FORBIDDEN' });
  expect(imEvents(h)[0]).toMatchObject({ app: 'matrix', kind: 'file', file: { name: 'holiday.png', size: body.length }, detail: { signature: 'Imgate.Test.Marker' } });
});

test('a declared size over max_scan_bytes gets the over-limit verdict before any byte is read', async () => {
  const h = harness(POLICY, { av });
  const req = reqmodRequest({ url: 'http://files.example/huge', headers: [['Content-Length', String(9 * 1024 * 1024)]], body: Buffer.alloc(10) });
  const v = await h.reqmod.handle(req);
  expect(v.kind).toBe('block');
  expect(req.body?.readableEnded).toBe(false);
  expect(imEvents(h)[0]).toMatchObject({ action: 'block', detail: { fail_open: false } });
});

test('file names: Content-Disposition (plain and RFC 5987), else the last path segment', () => {
  expect(transferName(head('HTTP/1.1 200 OK', [['Content-Disposition', 'attachment; filename="a b.pdf"']]), 'http://h/x')).toBe('a b.pdf');
  expect(transferName(head('HTTP/1.1 200 OK', [['Content-Disposition', "attachment; filename*=UTF-8''na%C3%AFve.txt"]]), undefined)).toBe('naïve.txt');
  expect(transferName(undefined, 'http://h/dir/r%C3%A9sum%C3%A9.doc?x=1')).toBe('résumé.doc');
  expect(transferName(undefined, 'http://h/')).toBeUndefined();
});
