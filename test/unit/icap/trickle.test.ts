// The early ("trickle") answer over raw ICAP: the 200 and the body start
// before the request body has ended, the handler's sink gets the same bytes,
// the held-back tail waits for the decision; 'abort' cuts the connection so
// the client never has the whole message; a full sink stops the reading.
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import type { IcapRequest, IcapVerdict, TrickleDecision } from '../../../icap';
import { dechunk, RawClient, service, start, type Running } from './helpers';

jest.setTimeout(20000);

const HOLD = 4096;

interface Scan {
  sink: Writable;
  got: Buffer[];
  ended: Promise<Buffer>;
}

/** A sink that collects, optionally stalled until release(). */
function scanSink(opts: { stall?: boolean } = {}): Scan & { release(): void; failed: Promise<Error> } {
  const got: Buffer[] = [];
  let stalled = opts.stall === true;
  let pending: (() => void) | null = null;
  let failedResolve: (e: Error) => void = () => undefined;
  const failed = new Promise<Error>((r) => { failedResolve = r; });
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(c: Buffer, _e, cb) {
      got.push(c);
      if (stalled) pending = cb;
      else cb();
    },
  });
  sink.on('error', (e) => failedResolve(e));
  const ended = new Promise<Buffer>((res) => sink.on('finish', () => res(Buffer.concat(got))));
  return {
    sink, got, ended, failed,
    release() { stalled = false; const p = pending; pending = null; p?.(); },
  };
}

let s: Running;
/** What the next handler call answers. */
let next: (r: IcapRequest) => IcapVerdict;

beforeAll(async () => {
  s = await start({ services: [service('/respmod', 'RESPMOD', async (r) => next(r)), service('/reqmod', 'REQMOD', async (r) => next(r))], transactionTimeoutMs: 10000 });
});
afterAll(async () => { await s.close(); });

function respmodHead(total: number, preview: number | null): string {
  const req = 'GET http://example.test/f.bin HTTP/1.1\r\nHost: example.test\r\n\r\n';
  const res = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`;
  const pv = preview === null ? '' : `Preview: ${preview}\r\n`;
  return `RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n${pv}Encapsulated: req-hdr=0, res-hdr=${req.length}, res-body=${req.length + res.length}\r\n\r\n${req}${res}`;
}

const chunk = (b: Buffer): Buffer => Buffer.concat([Buffer.from(b.length.toString(16) + '\r\n'), b, Buffer.from('\r\n')]);

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Body bytes of a (possibly unfinished) 200 response: everything after the encapsulated head, de-chunked as far as complete. */
function bodySoFar(buf: Buffer): { body: Buffer; complete: boolean } {
  const he = buf.lastIndexOf('ICAP/1.0 200');
  const h = he < 0 ? -1 : buf.indexOf('\r\n\r\n', he);
  if (h < 0) return { body: Buffer.alloc(0), complete: false };
  const head = buf.subarray(he, h).toString('latin1');
  const off = Number(/res-body=(\d+)/.exec(head)![1]);
  let p = h + 4 + off;
  const out: Buffer[] = [];
  for (;;) {
    const le = buf.indexOf('\r\n', p);
    if (le < 0) return { body: Buffer.concat(out), complete: false };
    const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
    if (n === 0) return { body: Buffer.concat(out), complete: buf.indexOf('\r\n\r\n', le) === le };
    if (le + 2 + n > buf.length) { out.push(buf.subarray(le + 2)); return { body: Buffer.concat(out), complete: false }; }
    out.push(buf.subarray(le + 2, le + 2 + n));
    p = le + 2 + n + 2;
  }
}

test('clean: the answer starts after the preview, streams while the body arrives, ends after the decision, byte-identical', async () => {
  const total = 256 * 1024;
  const body = crypto.randomBytes(total);
  let decide: (d: TrickleDecision) => void = () => undefined;
  const scan = scanSink();
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: new Promise((r) => { decide = r; }) });
  const c = await RawClient.connect(s.port);
  c.write(respmodHead(total, 1024));
  c.write(Buffer.concat([chunk(body.subarray(0, 1024)), Buffer.from('0\r\n\r\n')]));
  // 100 Continue and the 200 head come before the rest of the body is sent.
  await until(() => c.pending().includes('ICAP/1.0 200'));
  expect(c.pending().toString('latin1')).toMatch(/^ICAP\/1\.0 100 Continue\r\n[^]*?\r\n\r\nICAP\/1\.0 200 OK\r\n/);
  c.write(chunk(body.subarray(1024, 128 * 1024)));
  // Half the file is out while the rest has not been sent: the tail only is held.
  await until(() => bodySoFar(c.pending()).body.length === 128 * 1024 - HOLD);
  c.write(Buffer.concat([chunk(body.subarray(128 * 1024)), Buffer.from('0\r\n\r\n')]));
  const scanned = await scan.ended;
  expect(scanned.equals(body)).toBe(true);
  await until(() => bodySoFar(c.pending()).body.length === total - HOLD);
  await new Promise((r) => setTimeout(r, 100));
  expect(bodySoFar(c.pending()).complete).toBe(false);
  decide('pass');
  await until(() => bodySoFar(c.pending()).complete);
  expect(bodySoFar(c.pending()).body.equals(body)).toBe(true);
  // The connection stays usable: a second request on it is answered.
  next = () => ({ kind: 'allow' });
  const rest = c.pending().length;
  c.write(respmodHead(3, null) + '3\r\nabc\r\n0\r\n\r\n');
  await until(() => c.pending().length > rest && c.pending().subarray(rest).includes('ICAP/1.0 204'));
  c.end();
});

test('abort: the connection closes mid-body, the client never gets the tail nor the last chunk', async () => {
  const total = 200 * 1024;
  const body = crypto.randomBytes(total);
  const scan = scanSink();
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: scan.ended.then(() => 'abort' as const) });
  const c = await RawClient.connect(s.port);
  c.write(respmodHead(total, 0));
  c.write('0\r\n\r\n');
  await until(() => c.pending().includes('ICAP/1.0 200'));
  c.write(Buffer.concat([chunk(body), Buffer.from('0\r\n\r\n')]));
  expect(await c.waitClosed()).toBe(true);
  const got = bodySoFar(c.pending());
  expect(got.complete).toBe(false);
  expect(got.body.length).toBeLessThanOrEqual(total - HOLD);
  expect(got.body.equals(body.subarray(0, got.body.length))).toBe(true);
});

test('a decision that rejects cuts the answer too', async () => {
  const scan = scanSink();
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: scan.ended.then(() => Promise.reject(new Error('scanner down'))) });
  const c = await RawClient.connect(s.port);
  const body = crypto.randomBytes(10000);
  c.write(Buffer.concat([Buffer.from(respmodHead(body.length, null)), chunk(body), Buffer.from('0\r\n\r\n')]));
  expect(await c.waitClosed()).toBe(true);
  expect(bodySoFar(c.pending()).complete).toBe(false);
});

test('a full sink stops the reading (bounded memory); releasing it lets the rest through byte-identical', async () => {
  const total = 8 * 1024 * 1024;
  const body = crypto.randomBytes(total);
  const scan = scanSink({ stall: true });
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: scan.ended.then(() => 'pass' as const) });
  const c = await RawClient.connect(s.port);
  c.write(respmodHead(total, null));
  let off = 0;
  let blocked = false;
  const pump = (): void => {
    while (off < total) {
      const piece = body.subarray(off, off + 64 * 1024);
      off += piece.length;
      if (!c.sock.write(chunk(piece))) { blocked = true; c.sock.once('drain', pump); return; }
    }
    c.sock.write('0\r\n\r\n');
  };
  pump();
  await new Promise((r) => setTimeout(r, 500));
  // The sink holds one chunk unacknowledged: the server has not taken the whole body, nor sent it.
  expect(blocked).toBe(true);
  expect(off).toBeLessThan(total);
  const out = bodySoFar(c.pending()).body.length;
  expect(out).toBeLessThan(2 * 1024 * 1024);
  scan.release();
  const scanned = await scan.ended;
  expect(scanned.length).toBe(total);
  await until(() => bodySoFar(c.pending()).complete, 10000);
  expect(dechunkFrom200(c.pending()).equals(body)).toBe(true);
  c.end();
});

test('the connection dying mid-body destroys the sink (the scan side is not left waiting)', async () => {
  const scan = scanSink();
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: new Promise<TrickleDecision>(() => undefined) });
  const c = await RawClient.connect(s.port);
  c.write(respmodHead(100000, null));
  c.write(chunk(Buffer.alloc(5000, 1)));
  await until(() => c.pending().includes('ICAP/1.0 200'));
  c.sock.resetAndDestroy();
  const err = await scan.failed;
  expect(err.message).toMatch(/closed mid-body/);
});

test('REQMOD: a trickled upload passes its body through unchanged', async () => {
  const body = crypto.randomBytes(50000);
  const scan = scanSink();
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: scan.ended.then(() => 'pass' as const) });
  const c = await RawClient.connect(s.port);
  const req = `POST http://example.test/up HTTP/1.1\r\nHost: example.test\r\nContent-Length: ${body.length}\r\n\r\n`;
  c.write(Buffer.concat([Buffer.from(`REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nEncapsulated: req-hdr=0, req-body=${req.length}\r\n\r\n${req}`), chunk(body), Buffer.from('0\r\n\r\n')]));
  const r = await c.response();
  expect(r.status).toBe(200);
  expect(r.encap.subarray(0, req.length).toString('latin1')).toBe(req);
  expect(r.body.equals(body)).toBe(true);
  c.end();
});

function dechunkFrom200(buf: Buffer): Buffer {
  const he = buf.indexOf('ICAP/1.0 200');
  const h = buf.indexOf('\r\n\r\n', he);
  const off = Number(/-body=(\d+)/.exec(buf.subarray(he, h).toString('latin1'))![1]);
  return dechunk(buf.subarray(h + 4 + off));
}

test('a pass before the body ends: the sink is ended there and the rest streams straight through', async () => {
  const body = crypto.randomBytes(300 * 1024);
  const scan = scanSink();
  let decide: (d: TrickleDecision) => void = () => undefined;
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: new Promise((r) => { decide = r; }) });
  const c = await RawClient.connect(s.port);
  c.write(Buffer.concat([Buffer.from(respmodHead(body.length, null)), chunk(body.subarray(0, 100 * 1024))]));
  await until(() => bodySoFar(c.pending()).body.length === 100 * 1024 - HOLD);
  decide('pass');
  expect((await scan.ended).length).toBe(100 * 1024);
  c.write(Buffer.concat([chunk(body.subarray(100 * 1024)), Buffer.from('0\r\n\r\n')]));
  await until(() => bodySoFar(c.pending()).complete);
  expect(bodySoFar(c.pending()).body.equals(body)).toBe(true);
  c.end();
});

test('a body smaller than the hold-back is all held until the decision', async () => {
  const body = crypto.randomBytes(1000);
  const scan = scanSink();
  let decide: (d: TrickleDecision) => void = () => undefined;
  next = () => ({ kind: 'trickle', sink: scan.sink, holdBackBytes: HOLD, decision: new Promise((r) => { decide = r; }) });
  const c = await RawClient.connect(s.port);
  c.write(Buffer.concat([Buffer.from(respmodHead(body.length, null)), chunk(body), Buffer.from('0\r\n\r\n')]));
  expect((await scan.ended).equals(body)).toBe(true);
  await until(() => c.pending().includes('ICAP/1.0 200'));
  expect(bodySoFar(c.pending()).body.length).toBe(0);
  decide('pass');
  const r = await c.response();
  expect(r.status).toBe(200);
  expect(r.body.equals(body)).toBe(true);
  c.end();
});
