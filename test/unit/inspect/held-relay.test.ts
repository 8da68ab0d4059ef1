// The offerer -> client direction of a file data connection with its tail
// held until the AV verdict (src/inspect/held-relay.ts), over real loopback
// sockets, the real AV service (a command scanner: node as the external
// program) and the real FileTransfer: a clean file arrives whole and the
// connection ends normally; an infected one never arrives whole and the
// connection is cut; a framed connection's FilePayload decides what is the file.
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
import { FileTransfer, type FileDeps } from '../../../src/inspect/file-transfer';
import { HeldFileRelay } from '../../../src/inspect/held-relay';
import type { InspectSettings } from '../../../src/inspect/settings';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { OftPayload } from '../../../src/protocols/oscar';
import type { EventDraft, FilePayload } from '../../../src/protocols/types';
import { oftHeader, proxyFrame } from '../protocols/oscar/frames';

// BAD-MARKER: infected. SLOW-MARKER: the verdict takes 800 ms. HANG-MARKER: longer than the breaker allows.
const SCRIPT = `const t=require('fs').readFileSync(process.argv[1],'latin1');
const go=()=>{if(t.includes('BAD-MARKER')){console.log(process.argv[1]+': Unit.Bad FOUND');process.exit(1)}process.exit(0)};
if(t.includes('HANG-MARKER'))setTimeout(go,5000);else if(t.includes('SLOW-MARKER'))setTimeout(go,800);else go()`;
const HOLD = 8192;

type Line = Record<string, unknown>;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const facts = { conn: 'c1', door: 'socks5' as const, clientIp: '127.0.0.1', user: 'alice', destination: { host: '127.0.0.1', port: 5000 } };
const settings: InspectSettings = { enabled: true, probeMaxBytes: 512, probeTimeoutMs: 300, logTextMax: 4096, options: { starttls: 'pass', maxUnitBytes: 1 << 20 } };
const draft = (size?: number): EventDraft => ({ kind: 'file', side: 's2c', protocol: 'irc', account: 'alice', peer: 'bob', file: { name: 'f.bin', ...(size !== undefined ? { size } : {}) } });

let dir: string;
const services: AvService[] = [];
let lines: Line[] = [];
const servers: net.Server[] = [];
const socks = new Set<net.Socket>();

function av(fail: 'open' | 'closed' = 'closed', timeoutMs = 30_000): AvService {
  const s = createAvService(
    avSchema.parse({ scanners: [{ name: 'cmd', type: 'command', command: process.execPath, args: ['-e', SCRIPT, '{}'], fail, breaker: { timeout_ms: timeoutMs } }], spool_threshold_bytes: 16384, cache: { max_entries: 0 } }),
    { logger: pino({ level: 'silent' }), dataDir: dir },
  );
  services.push(s);
  return s;
}

function deps(service: AvService): FileDeps {
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
    av: () => service,
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

interface Run {
  /** What the receiver got, once its connection ended or was cut. */
  got: Promise<Buffer>;
  /** Bytes the receiver holds right now. */
  received(): number;
  cuts: string[];
  transfer: FileTransfer;
}

/**
 * offerer --(src)--> relay --(dest)--> receiver, like a DCC data connection
 * through the gateway. The offerer writes `wire` in 4 KiB pieces and FINs.
 */
async function run(service: AvService, wire: Buffer, opts: { declared?: number; payload?: FilePayload; size?: number; lockstep?: number; stallMs?: number; handshake?: number; lateTail?: number } = {}): Promise<Run> {
  const offererPort = await listen((s) => {
    if (opts.lateTail !== undefined) {
      // The offered bytes, then, once the receiver had time to get them, a few more.
      const cut = wire.length - opts.lateTail;
      s.write(wire.subarray(0, cut));
      setTimeout(() => s.end(wire.subarray(cut)), 800);
      return;
    }
    if (opts.handshake !== undefined) {
      // OFT-like: the header first, the rest only once the receiver answered it.
      const head = opts.handshake;
      s.write(wire.subarray(0, head));
      s.once('data', () => s.end(wire.subarray(head)));
      return;
    }
    if (opts.lockstep !== undefined) {
      lockstepSender(s, wire, opts.lockstep);
      return;
    }
    for (let i = 0; i < wire.length; i += 4096) s.write(wire.subarray(i, i + 4096));
    s.end();
    s.resume();
  });
  const parts: Buffer[] = [];
  let n = 0;
  let gotResolve: (b: Buffer) => void = () => undefined;
  const got = new Promise<Buffer>((r) => (gotResolve = r));
  const receiverPort = await listen((s) => {
    s.on('data', (d: Buffer) => {
      parts.push(d);
      n += d.length;
    });
    s.once('close', () => gotResolve(Buffer.concat(parts)));
    s.once('end', () => s.end());
    if (opts.handshake !== undefined) s.once('data', () => s.write('ACK\n'));
    if (opts.lockstep !== undefined) {
      // A DCC receiver: every read is acknowledged with the running total.
      s.on('data', () => {
        const ack = Buffer.alloc(4);
        ack.writeUInt32BE(n >>> 0);
        s.write(ack);
      });
    }
  });
  const [src, dest] = await Promise.all([connect(offererPort), connect(receiverPort)]);
  src.on('error', () => undefined);
  dest.on('error', () => undefined);
  const d = deps(service);
  const transfer = new FileTransfer(d, facts, settings, draft(opts.size ?? opts.declared));
  const cuts: string[] = [];
  const relay = new HeldFileRelay(src, dest, transfer, {
    holdBack: HOLD,
    ...(opts.declared !== undefined ? { declared: opts.declared } : {}),
    payload: opts.payload ?? null,
    ...(opts.stallMs !== undefined ? { stallMs: opts.stallMs } : {}),
    cut: (why) => {
      cuts.push(why);
      src.destroy();
      dest.destroy();
    },
  });
  relay.start();
  // The receiver's acks go back to the offerer, as the tunnel's other direction does.
  dest.pipe(src);
  return { got, received: () => n, cuts, transfer };
}

/** An old-style DCC sender: one packet, then wait until the receiver acknowledged it; closes once all is acknowledged. */
function lockstepSender(s: net.Socket, file: Buffer, packet: number): void {
  let sent = 0;
  let acks = Buffer.alloc(0);
  const next = (): void => {
    const p = file.subarray(sent, sent + packet);
    sent += p.length;
    s.write(p);
  };
  s.on('data', (d: Buffer) => {
    acks = Buffer.concat([acks, d]);
    let acked = -1;
    while (acks.length >= 4) {
      acked = acks.readUInt32BE(0);
      acks = acks.subarray(4);
    }
    if (acked < sent) return;
    if (sent === file.length) s.end();
    else next();
  });
  next();
}

const fileEvents = (): Line[] => lines.filter((l) => l.msg === 'im event' && l.kind === 'file');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'held-relay-'));
});
afterAll(async () => {
  for (const s of socks) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await Promise.all(services.map((s) => s.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('declared size, clean: the tail waits for the verdict, then the file arrives whole and the connection ends', async () => {
  const file = Buffer.concat([crypto.randomBytes(100_000), Buffer.from('SLOW-MARKER'), crypto.randomBytes(5000)]);
  const r = await run(av(), file, { declared: file.length });
  await sleep(400); // the scan takes 800 ms: everything but the tail is through
  expect(r.received()).toBe(file.length - HOLD);
  const got = await r.got;
  expect(sha(got)).toBe(sha(file));
  expect(r.cuts).toEqual([]);
  await r.transfer.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'allow', file: { size: file.length, sha256: sha(file) }, detail: { transfer: 'complete', scanner: 'cmd' } });
});

test('declared size, infected: the receiver never gets the tail, the connection is cut, block event with the signature', async () => {
  const file = Buffer.concat([crypto.randomBytes(60_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(30_000)]);
  const r = await run(av(), file, { declared: file.length });
  const got = await r.got;
  expect(got.length).toBe(file.length - HOLD);
  expect(got.equals(file.subarray(0, got.length))).toBe(true);
  expect(r.cuts[0]).toContain('infected: Unit.Bad');
  await r.transfer.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'block', rule: 'av:cmd', file: { size: file.length, sha256: sha(file) }, detail: { signature: 'Unit.Bad' } });
});

test('a file smaller than the hold-back: nothing of an infected one arrives', async () => {
  const file = Buffer.from('tiny BAD-MARKER file');
  const r = await run(av(), file, { declared: file.length });
  expect((await r.got).length).toBe(0);
  expect(r.cuts[0]).toContain('Unit.Bad');
});

test('no declared size: the trailing window is held until FIN and the verdict', async () => {
  const clean = crypto.randomBytes(50_000);
  const r1 = await run(av(), clean);
  expect(sha(await r1.got)).toBe(sha(clean));
  expect(r1.cuts).toEqual([]);

  const bad = Buffer.concat([crypto.randomBytes(40_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(2000)]);
  const r2 = await run(av(), bad);
  expect((await r2.got).length).toBe(bad.length - HOLD);
  expect(r2.cuts[0]).toContain('Unit.Bad');
});

test('more than the offered size: held as a transfer of unknown size (trailing window until FIN), recorded as larger than offered', async () => {
  const file = crypto.randomBytes(30_000);
  const wire = Buffer.concat([file, Buffer.from('extra bytes nobody offered')]);
  const r = await run(av(), wire, { declared: file.length });
  expect((await r.got).equals(wire)).toBe(true);
  expect(r.cuts).toEqual([]);
  await r.transfer.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'allow', file: { size: wire.length, sha256: sha(wire) }, detail: { transfer: 'partial', larger_than_offered: true, offeredSize: file.length } });

  const bad = Buffer.concat([crypto.randomBytes(30_000), Buffer.from('BAD-MARKER')]);
  const r2 = await run(av(), Buffer.concat([bad, crypto.randomBytes(5000)]), { declared: bad.length });
  expect((await r2.got).length).toBe(bad.length + 5000 - HOLD);
  expect(r2.cuts[0]).toContain('Unit.Bad');
});

test('bytes after the file was decided at its offered size were never scanned: the connection is cut', async () => {
  const file = crypto.randomBytes(20_000);
  const r = await run(av(), Buffer.concat([file, Buffer.from('late')]), { declared: file.length, lateTail: 4 });
  const got = await r.got;
  expect(got.equals(file)).toBe(true);
  expect(r.cuts[0]).toContain('after the file was decided');
});

test('a scan slower than the breaker allows: fail-closed cuts before the tail, fail-open lets it through', async () => {
  const file = Buffer.concat([crypto.randomBytes(20_000), Buffer.from('HANG-MARKER')]);
  const closed = await run(av('closed', 300), file, { declared: file.length });
  expect((await closed.got).length).toBe(file.length - HOLD);
  expect(closed.cuts[0]).toContain('not scanned');

  const open = await run(av('open', 300), file, { declared: file.length });
  expect(sha(await open.got)).toBe(sha(file));
  expect(open.cuts).toEqual([]);
}, 20000);

/** A toy framing: "LEN:<n>\n", n file bytes, then "\nEND\n" (as OFT wraps its data). */
class ToyPayload implements FilePayload {
  state: FilePayload['state'] = 'header';
  declared?: { name?: string; size?: number };
  private head = '';
  private left = 0;
  push(chunk: Buffer): Buffer[] {
    let c = chunk;
    if (this.state === 'header') {
      const nl = c.indexOf(10);
      this.head += c.subarray(0, nl < 0 ? c.length : nl).toString('latin1');
      if (this.head.length > 32) this.state = 'failed';
      if (nl < 0 || this.state === 'failed') return [];
      const m = /^LEN:(\d+)$/.exec(this.head);
      if (m === null) {
        this.state = 'failed';
        return [];
      }
      this.left = Number(m[1]);
      this.declared = { size: this.left };
      this.state = this.left === 0 ? 'done' : 'data';
      c = c.subarray(nl + 1);
    }
    if (this.state !== 'data' || c.length === 0) return [];
    const take = c.subarray(0, Math.min(this.left, c.length));
    this.left -= take.length;
    if (this.left === 0) this.state = 'done';
    return [take];
  }
}

const framed = (file: Buffer): Buffer => Buffer.concat([Buffer.from(`LEN:${file.length}\n`), file, Buffer.from('\nEND\n')]);

test('a framed connection: the payload decides the file bytes; the wire passes unchanged when clean', async () => {
  const file = crypto.randomBytes(70_000);
  const wire = framed(file);
  const r = await run(av(), wire, { payload: new ToyPayload(), size: file.length });
  expect((await r.got).equals(wire)).toBe(true);
  await r.transfer.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'allow', file: { size: file.length, sha256: sha(file) }, detail: { transfer: 'complete', declared_size: file.length } });
});

test('a framed connection with an infected file: cut before its tail', async () => {
  const file = Buffer.concat([crypto.randomBytes(30_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(30_000)]);
  const wire = framed(file);
  const r = await run(av(), wire, { payload: new ToyPayload(), size: file.length });
  const got = await r.got;
  expect(got.length).toBeLessThanOrEqual(wire.length - HOLD);
  expect(r.cuts[0]).toContain('Unit.Bad');
  await r.transfer.done;
  expect(fileEvents()[0]).toMatchObject({ action: 'block', file: { size: file.length, sha256: sha(file) }, detail: { signature: 'Unit.Bad' } });
});

test('a framing that breaks: the transfer is partial', async () => {
  const wire = Buffer.concat([Buffer.from('NOT A HEADER AT ALL, LONGER THAN THIRTY-TWO\n'), crypto.randomBytes(20_000)]);
  const r = await run(av(), wire, { payload: new ToyPayload(), size: 20_000 });
  expect((await r.got).equals(wire)).toBe(true);
  await r.transfer.done;
  expect(fileEvents()[0]).toMatchObject({ file: { size: 0 }, detail: { transfer: 'partial', framing: 'failed' } });
});

test('a DCC sender that waits for each ack: no deadlock; clean completes, infected is cut before its final packet', async () => {
  const clean = crypto.randomBytes(40_000);
  const t0 = Date.now();
  const r1 = await run(av(), clean, { declared: clean.length, lockstep: 1024, stallMs: 300 });
  expect(sha(await r1.got)).toBe(sha(clean));
  expect(r1.cuts).toEqual([]);
  // One stall inside the held window, not one per packet.
  expect(Date.now() - t0).toBeLessThan(3000);

  const bad = Buffer.concat([crypto.randomBytes(30_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(10_000)]);
  const r2 = await run(av(), bad, { declared: bad.length, lockstep: 1024, stallMs: 300 });
  const got = await r2.got;
  expect(got.length).toBeLessThan(bad.length);
  expect(got.length).toBeGreaterThanOrEqual(bad.length - 1024);
  expect(r2.cuts[0]).toContain('Unit.Bad');
}, 20000);

test('a framed connection whose sender waits for an answer to its header: the header passes, only file bytes are held', async () => {
  const file = crypto.randomBytes(30_000);
  const wire = framed(file);
  const head = wire.indexOf(10) + 1;
  const r = await run(av(), wire, { payload: new ToyPayload(), size: file.length, handshake: head });
  expect((await r.got).equals(wire)).toBe(true);
  expect(r.cuts).toEqual([]);

  const bad = Buffer.concat([crypto.randomBytes(20_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(20_000)]);
  const badWire = framed(bad);
  const r2 = await run(av(), badWire, { payload: new ToyPayload(), size: bad.length, handshake: badWire.indexOf(10) + 1 });
  const got = await r2.got;
  expect(got.length).toBeGreaterThanOrEqual(head);
  expect(got.length).toBeLessThanOrEqual(badWire.length - 8192);
  expect(r2.cuts[0]).toContain('Unit.Bad');
});

test('no offered size and a sender that waits for each ack: the stall releases the window, the transfer completes (no deadlock)', async () => {
  const file = crypto.randomBytes(20_000);
  const r = await run(av(), file, { lockstep: 1024, stallMs: 300 });
  expect(sha(await r.got)).toBe(sha(file));
  expect(r.cuts).toEqual([]);
}, 20000);

// OSCAR OFT2 sessions with several files (the real OftPayload): each file is
// its own FileTransfer, event and verdict through `nextTransfer`.
const OFT_PROMPT = 0x0101;
const OFT_ACK = 0x0202;
const OFT_DONE = 0x0204;

interface OftRun {
  /** Each file as the receiver got it, and whether it sent done for it. */
  files: Promise<Array<{ name: string; bytes: Buffer; done: boolean }>>;
  cuts: string[];
  transfers: FileTransfer[];
  /** The sender got the receiver's done for this many files. */
  senderDones: () => number;
}

/** bob's sender: for each file its prompt, wait for the ack, the bytes, wait for done (or, pipelined, all at once). */
async function runOft(service: AvService, files: Array<{ name: string; data: Buffer }>, pipelined = false, preamble: Buffer = Buffer.alloc(0), hold = HOLD): Promise<OftRun> {
  const n = files.length;
  let dones = 0;
  const offererPort = await listen((s) => {
    const prompt = (i: number): Buffer => oftHeader(OFT_PROMPT, { size: (files[i] as { data: Buffer }).data.length, name: (files[i] as { name: string }).name, totfiles: n, filesleft: n - i });
    if (pipelined) {
      s.end(Buffer.concat([preamble, ...files.flatMap((f, i) => [prompt(i), f.data])]));
      s.resume();
      return;
    }
    let i = 0;
    let inbox = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      inbox = Buffer.concat([inbox, d]);
      while (inbox.length >= 256) {
        const type = inbox.readUInt16BE(6);
        inbox = inbox.subarray(256);
        if (type === OFT_ACK) s.write((files[i] as { data: Buffer }).data);
        else if (type === OFT_DONE) {
          dones++;
          if (++i < n) s.write(prompt(i));
          else s.end();
        }
      }
    });
    s.write(Buffer.concat([preamble, prompt(0)]));
  });
  let resolveFiles: (f: Array<{ name: string; bytes: Buffer; done: boolean }>) => void = () => undefined;
  const got = new Promise<Array<{ name: string; bytes: Buffer; done: boolean }>>((r) => (resolveFiles = r));
  const receiverPort = await listen((s) => {
    // alice's receiver: prompt -> ack, size bytes -> done, per file.
    const out: Array<{ name: string; bytes: Buffer; done: boolean }> = [];
    let buf = Buffer.alloc(0);
    let skip = preamble.length;
    let cur: { name: string; size: number } | null = null;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (skip > 0) {
          // The proxy's frames before the OFT2 data (what a joiner reads first).
          const n = Math.min(skip, buf.length);
          buf = buf.subarray(n);
          skip -= n;
          if (skip > 0) return;
        }
        if (cur === null) {
          if (buf.length < 256) return;
          const nb = buf.subarray(192, 256);
          cur = { name: nb.toString('latin1', 0, nb.indexOf(0)), size: buf.readUInt32BE(32) };
          buf = buf.subarray(256);
          s.write(oftHeader(OFT_ACK, { size: cur.size, name: cur.name }));
        }
        if (buf.length < cur.size) return;
        out.push({ name: cur.name, bytes: buf.subarray(0, cur.size), done: true });
        s.write(oftHeader(OFT_DONE, { size: cur.size, name: cur.name }));
        buf = buf.subarray(cur.size);
        cur = null;
      }
    });
    s.once('end', () => s.end());
    s.once('close', () => resolveFiles(cur === null ? out : [...out, { name: cur.name, bytes: buf, done: false }]));
  });
  const [src, dest] = await Promise.all([connect(offererPort), connect(receiverPort)]);
  src.on('error', () => undefined);
  dest.on('error', () => undefined);
  const d = deps(service);
  const first = new FileTransfer(d, facts, settings, { ...draft(), protocol: 'oscar', file: { name: 'offer' } });
  const transfers = [first];
  const cuts: string[] = [];
  const relay = new HeldFileRelay(src, dest, first, {
    holdBack: hold,
    payload: new OftPayload(),
    nextTransfer: (declared, index) => {
      const t = new FileTransfer(d, facts, settings, { ...draft(), protocol: 'oscar', file: { ...declared }, detail: { file_index: index } });
      transfers.push(t);
      return t;
    },
    cut: (why) => {
      cuts.push(why);
      src.destroy();
      dest.destroy();
    },
  });
  relay.start();
  dest.pipe(src);
  return { files: got, cuts, transfers, senderDones: () => dones };
}

test('OFT2 multi-file: two clean files, each arrives whole and gets its own event, sha256 and verdict', async () => {
  const a = crypto.randomBytes(40_000);
  const b = Buffer.concat([crypto.randomBytes(30_000), Buffer.from('SLOW-MARKER')]);
  const r = await runOft(av(), [
    { name: 'a.txt', data: a },
    { name: 'b.jpg', data: b },
  ]);
  const got = await r.files;
  expect(got.map((f) => [f.name, sha(f.bytes), f.done])).toEqual([
    ['a.txt', sha(a), true],
    ['b.jpg', sha(b), true],
  ]);
  expect(r.cuts).toEqual([]);
  expect(r.senderDones()).toBe(2);
  await Promise.all(r.transfers.map((t) => t.done));
  expect(fileEvents().map((e) => [e.action, (e.file as Line).size, (e.file as Line).sha256, (e.detail as Line).declared_name, (e.detail as Line).transfer])).toEqual([
    ['allow', a.length, sha(a), 'a.txt', 'complete'],
    ['allow', b.length, sha(b), 'b.jpg', 'complete'],
  ]);
  expect(fileEvents()[1]).toMatchObject({ file: { name: 'b.jpg' }, detail: { file_index: 1, scanner: 'cmd' } });
}, 20000);

test('OFT2 multi-file: clean first file delivered and recorded clean, infected second cut before its tail with a block event', async () => {
  const a = crypto.randomBytes(50_000);
  const b = Buffer.concat([crypto.randomBytes(30_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(20_000)]);
  const r = await runOft(av(), [
    { name: 'clean.doc', data: a },
    { name: 'evil.bin', data: b },
  ]);
  const got = await r.files;
  expect(got[0]).toMatchObject({ name: 'clean.doc', done: true });
  expect(sha((got[0] as { bytes: Buffer }).bytes)).toBe(sha(a));
  expect(got[1]).toMatchObject({ name: 'evil.bin', done: false });
  const partial = (got[1] as { bytes: Buffer }).bytes;
  expect(partial.length).toBeLessThanOrEqual(b.length - HOLD);
  expect(partial.equals(b.subarray(0, partial.length))).toBe(true);
  expect(r.cuts[0]).toContain('Unit.Bad');
  expect(r.senderDones()).toBe(1);
  await Promise.all(r.transfers.map((t) => t.done));
  expect(fileEvents()).toHaveLength(2);
  expect(fileEvents()[0]).toMatchObject({ action: 'allow', file: { size: a.length, sha256: sha(a) }, detail: { declared_name: 'clean.doc', transfer: 'complete' } });
  expect(fileEvents()[1]).toMatchObject({ action: 'block', rule: 'av:cmd', file: { name: 'evil.bin', size: b.length, sha256: sha(b) }, detail: { signature: 'Unit.Bad', file_index: 1 } });
}, 20000);

test('OFT2 multi-file from a sender that does not wait for done: every file is still hashed and recorded on its own', async () => {
  const files = [0, 1, 2].map((i) => ({ name: `f${i}.bin`, data: crypto.randomBytes(3000 + i * 7000) }));
  const r = await runOft(av(), files, true);
  const got = await r.files;
  expect(got.map((f) => [f.name, sha(f.bytes)])).toEqual(files.map((f) => [f.name, sha(f.data)]));
  await Promise.all(r.transfers.map((t) => t.done));
  expect(fileEvents().map((e) => [(e.detail as Line).declared_name, (e.file as Line).sha256])).toEqual(files.map((f) => [f.name, sha(f.data)]));
}, 20000);

test('OFT2 through the rendezvous proxy: the proxy\'s READY passes as framing, the file after it is held and scanned', async () => {
  const bad = Buffer.concat([crypto.randomBytes(20_000), Buffer.from('BAD-MARKER'), crypto.randomBytes(20_000)]);
  const r = await runOft(av(), [{ name: 'proxied.bin', data: bad }], false, proxyFrame(5));
  const got = await r.files;
  expect(got[0]).toMatchObject({ name: 'proxied.bin', done: false });
  expect((got[0] as { bytes: Buffer }).bytes.length).toBeLessThanOrEqual(bad.length - HOLD);
  expect(r.cuts[0]).toContain('Unit.Bad');
  await Promise.all(r.transfers.map((t) => t.done));
  expect(fileEvents()[0]).toMatchObject({ action: 'block', file: { size: bad.length, sha256: sha(bad) }, detail: { declared_name: 'proxied.bin', signature: 'Unit.Bad' } });
}, 20000);

test('OFT2 multi-file with nothing held (hold-back off): every file is still its own event', async () => {
  const files = [0, 1].map((i) => ({ name: `plain${i}.txt`, data: crypto.randomBytes(20_000 + i) }));
  const r = await runOft(av(), files, false, Buffer.alloc(0), 0);
  const got = await r.files;
  expect(got.map((f) => [f.name, sha(f.bytes), f.done])).toEqual(files.map((f) => [f.name, sha(f.data), true]));
  await Promise.all(r.transfers.map((t) => t.done));
  expect(fileEvents().map((e) => [(e.detail as Line).declared_name, (e.file as Line).sha256, (e.detail as Line).transfer])).toEqual(files.map((f) => [f.name, sha(f.data), 'complete']));
}, 20000);
