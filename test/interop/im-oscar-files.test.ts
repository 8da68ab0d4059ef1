// An AIM file transfer (OSCAR rendezvous + OFT2 data connection) through the
// real gateway (bin/imgate.js), scanned by real clamd (custom signature).
// The peers are SCRIPTED: no AIM server exists any more and no capture holds
// a transfer, so
//  - a tiny OSCAR server (FLAP over TCP) sends the client the channel-1
//    hello, takes its login, and relays bob's SNAC 04/07 ICBM channel-2
//    rendezvous proposal (file name and size, offerer IP 127.0.0.1 and a
//    port), built with test/unit/protocols/oscar/frames.ts;
//  - bob's OFT2 sender listens on that port: the prompt (0x0101, name,
//    size), waits for the receiver's ack (0x0202), sends the bytes, waits
//    for done (0x0204), closes;
//  - alice is a raw socket client that reaches the OSCAR server through
//    imgate's SOCKS5 door, and dials the offer's address through the door too
//    and answers as an OFT receiver.
// What a user would check: a clean file arrives byte-identical, bob gets his
// done, and the log and the record store hold a file event with its name,
// size, sha256 and transfer complete; an infected file arrives short (never
// whole: its last 8 KiB wait for clamd's verdict and the connection is cut),
// with a block event naming the signature; a proposal the policy blocks
// (file_name rule) never reaches alice, bob's server gets a rendezvous
// cancel, and the data connection is refused at the SOCKS door.
// Several files in one OFT2 session (prompt totfiles/filesleft, one
// prompt/ack/data/done cycle each): each file is its own event and verdict;
// a clean first file arrives whole and is recorded clean, an infected second
// one arrives short with its own block event. Reverse connection (request
// 2): alice's own offer, bob asks to be dialled; alice dials bob through the
// door and sends, and that direction is held and scanned the same way.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { SocksClient } from 'socks';
import { fileOfferInAt, fileOfferOutAt, flap, frames, HELLO, loginCh1, oftHeader, snac, snacId } from '../unit/protocols/oscar/frames';
import { AV_MARKER, AV_SIGNATURE, Clamd } from './helpers/clamd';
import { Gateway, IMGATE_BIN, type LogLine } from './helpers/gateway';
import { sleep } from './helpers/ports';

const OFT_PROMPT = 0x0101;
const OFT_ACK = 0x0202;
const OFT_DONE = 0x0204;
const POLICY = `default: allow
rules:
  - id: no-exe
    when: { kind: file, file_name: ["*.exe"] }
    then: block
`;

type Row = Record<string, unknown>;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

let clamd: Clamd;
let gw: Gateway;
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

/** Bytes arriving on a socket, with a wait for "at least n" (bounded by a timeout). */
class Inbox {
  private parts: Buffer[] = [];
  length = 0;
  closed = false;
  private waiters: Array<() => void> = [];
  constructor(s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.parts.push(d);
      this.length += d.length;
      this.wake();
    });
    s.once('close', () => {
      this.closed = true;
      this.wake();
    });
  }
  get all(): Buffer {
    return Buffer.concat(this.parts);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** True once `pred` holds, false when the socket closed or `ms` passed first. */
  async until(pred: (all: Buffer) => boolean, ms = 10_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (pred(this.all)) return true;
      if (this.closed || Date.now() > deadline) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

function track(s: net.Socket): net.Socket {
  sockets.add(s);
  s.on('error', () => undefined);
  s.once('close', () => sockets.delete(s));
  return s;
}

async function listen(onConn: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer((s) => onConn(track(s)));
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

function viaSocks(port: number): Promise<net.Socket> {
  return SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.ports.socks5, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
    timeout: 5000,
  }).then(({ socket }) => track(socket));
}

/** The scripted OSCAR server's one connection (alice, through the gateway), and alice's end of it. */
let oscar: { toAlice: (snacPayload: Buffer) => void; aliceSends: (snacPayload: Buffer) => void; fromAlice: Inbox; atAlice: Inbox };

async function startOscar(): Promise<void> {
  let seq = 0x1000;
  let accepted!: (c: { sock: net.Socket; inbox: Inbox }) => void;
  const conn = new Promise<{ sock: net.Socket; inbox: Inbox }>((r) => (accepted = r));
  const port = await listen((s) => {
    const inbox = new Inbox(s);
    // The server speaks first: FLAP channel 1, version 1.
    s.write(flap(1, seq++, HELLO));
    accepted({ sock: s, inbox });
  });
  const alice = await viaSocks(port);
  const atAlice = new Inbox(alice);
  const { sock, inbox } = await conn;
  expect(await atAlice.until((b) => b.length >= 10)).toBe(true);
  // alice answers the hello with her login (FLAP channel 1, TLV 1 screen name).
  const login = flap(1, 1, loginCh1('alice'));
  alice.write(login);
  expect(await inbox.until((b) => b.length >= login.length)).toBe(true);
  let aliceSeq = 2;
  oscar = { toAlice: (p) => sock.write(flap(2, seq++, p)), aliceSends: (p) => alice.write(flap(2, aliceSeq++, p)), fromAlice: inbox, atAlice };
}

/** bob's OFT2 sender: prompt, wait for the ack, the bytes, wait for done. */
async function oftSender(name: string, file: Buffer): Promise<{ port: number; result: Promise<{ connected: boolean; ack: boolean; done: boolean }> }> {
  let connected = false;
  let resolveResult!: (r: { connected: boolean; ack: boolean; done: boolean }) => void;
  const result = new Promise<{ connected: boolean; ack: boolean; done: boolean }>((r) => (resolveResult = r));
  const port = await listen((s) => {
    connected = true;
    const inbox = new Inbox(s);
    void (async () => {
      s.write(oftHeader(OFT_PROMPT, { size: file.length, name }));
      const ack = await inbox.until((b) => b.length >= 256 && b.readUInt16BE(6) === OFT_ACK);
      if (!ack) return resolveResult({ connected, ack, done: false });
      s.write(file);
      const done = await inbox.until((b) => b.length >= 512 && b.readUInt16BE(256 + 6) === OFT_DONE, 20_000);
      s.end();
      resolveResult({ connected, ack, done });
    })();
  });
  // A sender nobody dials (the blocked proposal) reports after a while.
  setTimeout(() => resolveResult({ connected, ack: false, done: false }), 30_000).unref();
  return { port, result };
}

/** alice as the OFT receiver: reads the prompt, acks, reads the declared size, sends done. */
async function oftReceive(port: number): Promise<{ name: string; size: number; got: Buffer; completed: boolean }> {
  const s = await viaSocks(port);
  const inbox = new Inbox(s);
  expect(await inbox.until((b) => b.length >= 6 && b.length >= b.readUInt16BE(4))).toBe(true);
  const all = inbox.all;
  const hdrlen = all.readUInt16BE(4);
  const prompt = all.subarray(0, hdrlen);
  expect(prompt.readUInt16BE(6)).toBe(OFT_PROMPT);
  const size = prompt.readUInt32BE(32);
  const nameBytes = prompt.subarray(192);
  const name = nameBytes.toString('latin1', 0, nameBytes.indexOf(0) < 0 ? nameBytes.length : nameBytes.indexOf(0));
  s.write(oftHeader(OFT_ACK, { size, name }));
  const completed = await inbox.until((b) => b.length >= hdrlen + size, 20_000);
  if (completed) s.write(oftHeader(OFT_DONE, { size, name }));
  await new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r())));
  return { name, size, got: inbox.all.subarray(hdrlen, hdrlen + size), completed };
}

/** bob proposes `name` to alice through the OSCAR server; true when alice received the proposal. */
async function propose(name: string, size: number, port: number, reqId: number, files = 1): Promise<boolean> {
  const cookie = crypto.randomBytes(8);
  const before = oscar.atAlice.length;
  oscar.toAlice(fileOfferInAt(reqId, 'bob', name, size, { ip: '127.0.0.1', port, cookie, files }));
  // The proposal (or whatever the gateway made of it) has passed when a harmless SNAC after it arrives (01/13, a MOTD).
  const marker = snac(1, 0x13, reqId, Buffer.from(`marker-${reqId}`));
  oscar.toAlice(marker);
  expect(await oscar.atAlice.until((b) => b.subarray(before).includes(marker))).toBe(true);
  return oscar.atAlice.all.subarray(before).includes(cookie);
}

const transferEvent = (name: string) => (l: LogLine): boolean =>
  l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === name && (l.detail as Row | undefined)?.transfer !== undefined;

function cliJson(args: string[]): Row[] {
  const r = spawnSync(process.execPath, [IMGATE_BIN, ...args, '--json', '--config', gw.configPath], { encoding: 'utf8', timeout: 30_000 });
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

beforeAll(async () => {
  clamd = await Clamd.start();
  gw = await Gateway.start({
    name: 'im-oscar-files',
    policy: POLICY,
    config: { audit: { flush_interval_ms: 100 }, av: { scanners: [{ name: 'clamd', type: 'clamd', port: clamd.port }], spool_threshold_bytes: 65536 } },
  });
  await startOscar();
}, 90_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  await sleep(100);
  await Promise.allSettled([gw?.cleanup(), clamd?.cleanup()]);
}, 60_000);

test('a clean OFT file: byte-identical, bob gets done, a complete file event with its sha256 in the log and the store', async () => {
  const file = crypto.randomBytes(300 * 1024);
  const bob = await oftSender('report.pdf', file);
  expect(await propose('report.pdf', file.length, bob.port, 101)).toBe(true);
  const r = await oftReceive(bob.port);
  expect(r).toMatchObject({ name: 'report.pdf', size: file.length, completed: true });
  expect(sha(r.got)).toBe(sha(file));
  expect(await bob.result).toEqual({ connected: true, ack: true, done: true });

  const ev = await gw.waitLog(transferEvent('report.pdf'), 15_000);
  expect(ev).toMatchObject({ protocol: 'oscar', action: 'allow', account: 'alice', peer: 'bob', file: { name: 'report.pdf', size: file.length, sha256: sha(file) } });
  expect(ev?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd', rendezvous: 'oft', declared_name: 'report.pdf', declared_size: file.length });

  let rows: Row[] = [];
  for (let i = 0; i < 25; i++) {
    rows = cliJson(['files', '--name', 'report.pdf']).filter((f) => f.sha256 === sha(file));
    if (rows.length > 0) break;
    await sleep(200);
  }
  expect(rows[0]).toMatchObject({ name: 'report.pdf', size: file.length, protocol: 'oscar', account: 'alice', action: 'allow' });
}, 60_000);

test('an infected OFT file never arrives whole: cut before its last 8 KiB, bob never gets done, a block event naming the signature', async () => {
  const file = Buffer.concat([crypto.randomBytes(200 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(50 * 1024)]);
  const bob = await oftSender('setup.bin', file);
  expect(await propose('setup.bin', file.length, bob.port, 102)).toBe(true);
  const r = await oftReceive(bob.port);
  expect(r.completed).toBe(false);
  expect(r.got.length).toBeLessThanOrEqual(file.length - 8192);
  expect(r.got.equals(file.subarray(0, r.got.length))).toBe(true);
  expect((await bob.result).done).toBe(false);

  const ev = await gw.waitLog(transferEvent('setup.bin'), 15_000);
  expect(ev).toMatchObject({ protocol: 'oscar', action: 'block', rule: 'av:clamd', file: { name: 'setup.bin', size: file.length, sha256: sha(file) } });
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
  const cut = await gw.waitLog((l) => l.msg === 'tunnel closed' && String(l.reason).includes('setup.bin'), 5000);
  expect(String(cut?.reason)).toContain(AV_SIGNATURE);
}, 60_000);

test('a proposal the policy blocks: alice never sees it, bob gets a rendezvous cancel, the data connection is refused', async () => {
  const file = crypto.randomBytes(10_000);
  const bob = await oftSender('tool.exe', file);
  const fromBefore = oscar.fromAlice.length;
  expect(await propose('tool.exe', file.length, bob.port, 103)).toBe(false);
  // The gateway answered for alice: an ICBM 04/06 channel 2 rendezvous of type 1 (cancel).
  expect(await oscar.fromAlice.until((b) => frames(b.subarray(fromBefore)).some((f) => f.channel === 2 && snacId(f.payload) === '04/06' && f.payload.readUInt16BE(18) === 2))).toBe(true);
  const ev = await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === 'tool.exe', 5000);
  expect(ev).toMatchObject({ protocol: 'oscar', action: 'block', rule: 'no-exe' });
  // alice (or anything else behind the gateway) dials the offer anyway: the door refuses it.
  await expect(viaSocks(bob.port)).rejects.toThrow();
  expect((await Promise.race([bob.result, sleep(500).then(() => null)]))?.connected ?? false).toBe(false);
  const refused = await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === 'tool.exe' && (l.detail as Row | undefined)?.data === true, 5000);
  expect(refused).toMatchObject({ action: 'block', rule: 'no-exe' });
}, 60_000);

interface Got {
  name: string;
  bytes: Buffer;
  done: boolean;
}

/** An OFT2 receiver on `s`: prompt -> ack, `size` bytes -> done, per file, until the socket closes. */
function oftReceiver(s: net.Socket): Promise<Got[]> {
  const out: Got[] = [];
  let buf = Buffer.alloc(0);
  let cur: { name: string; size: number; hdrlen: number } | null = null;
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (cur === null) {
        if (buf.length < 6 || buf.length < buf.readUInt16BE(4)) return;
        const hdrlen = buf.readUInt16BE(4);
        expect(buf.readUInt16BE(6)).toBe(OFT_PROMPT);
        const nb = buf.subarray(192, hdrlen);
        cur = { name: nb.toString('latin1', 0, nb.indexOf(0) < 0 ? nb.length : nb.indexOf(0)), size: buf.readUInt32BE(32), hdrlen };
        buf = buf.subarray(hdrlen);
        s.write(oftHeader(OFT_ACK, { size: cur.size, name: cur.name }));
      }
      if (buf.length < cur.size) return;
      out.push({ name: cur.name, bytes: buf.subarray(0, cur.size), done: true });
      s.write(oftHeader(OFT_DONE, { size: cur.size, name: cur.name }));
      buf = buf.subarray(cur.size);
      cur = null;
    }
  });
  return new Promise((r) => s.once('close', () => r(cur === null ? out : [...out, { name: cur.name, bytes: buf, done: false }])));
}

/** An OFT2 sender on `s`: each file's prompt (totfiles, filesleft), wait for the ack, the bytes, wait for done; returns how many dones it got. */
function oftSend(s: net.Socket, files: Array<{ name: string; data: Buffer }>): Promise<number> {
  const n = files.length;
  let i = 0;
  let dones = 0;
  let inbox = Buffer.alloc(0);
  const prompt = (k: number): Buffer => {
    const f = files[k] as { name: string; data: Buffer };
    return oftHeader(OFT_PROMPT, { size: f.data.length, name: f.name, totfiles: n, filesleft: n - k });
  };
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
  s.write(prompt(0));
  return new Promise((r) => s.once('close', () => r(dones)));
}

async function storedFile(name: string, sha256: string): Promise<Row | undefined> {
  for (let i = 0; i < 25; i++) {
    const rows = cliJson(['files', '--name', name]).filter((f) => f.sha256 === sha256);
    if (rows.length > 0) return rows[0];
    await sleep(200);
  }
  return undefined;
}

test('two files in one OFT2 session, clean then infected: the first arrives whole and is recorded clean, the second arrives short with a block event', async () => {
  const clean = crypto.randomBytes(120 * 1024);
  const bad = Buffer.concat([crypto.randomBytes(100 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(40 * 1024)]);
  let bobDones: Promise<number> = Promise.resolve(-1);
  const port = await listen((s) => {
    bobDones = oftSend(s, [
      { name: 'minutes.txt', data: clean },
      { name: 'payload.bin', data: bad },
    ]);
  });
  expect(await propose('minutes.txt', clean.length + bad.length, port, 104, 2)).toBe(true);
  const got = await oftReceiver(await viaSocks(port));
  expect(got.map((f) => [f.name, f.done])).toEqual([
    ['minutes.txt', true],
    ['payload.bin', false],
  ]);
  expect(sha((got[0] as Got).bytes)).toBe(sha(clean));
  const partial = (got[1] as Got).bytes;
  expect(partial.length).toBeLessThanOrEqual(bad.length - 8192);
  expect(partial.equals(bad.subarray(0, partial.length))).toBe(true);
  expect(await bobDones).toBe(1);

  const first = await gw.waitLog((l) => transferEvent('minutes.txt')(l) && (l.file as Row).sha256 === sha(clean), 15_000);
  expect(first).toMatchObject({ protocol: 'oscar', action: 'allow', account: 'alice', peer: 'bob', file: { size: clean.length } });
  expect(first?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd', declared_name: 'minutes.txt', declared_size: clean.length, fileCount: 2, offeredTotalSize: clean.length + bad.length });
  const second = await gw.waitLog(transferEvent('payload.bin'), 15_000);
  expect(second).toMatchObject({ protocol: 'oscar', action: 'block', rule: 'av:clamd', account: 'alice', peer: 'bob', file: { name: 'payload.bin', size: bad.length, sha256: sha(bad) } });
  expect(second?.detail as Row).toMatchObject({ file_index: 1, declared_name: 'payload.bin' });
  expect(String((second?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
  const cut = await gw.waitLog((l) => l.msg === 'tunnel closed' && String(l.reason).includes('payload.bin'), 5000);
  expect(String(cut?.reason)).toContain(AV_SIGNATURE);
  expect(await storedFile('minutes.txt', sha(clean))).toMatchObject({ name: 'minutes.txt', size: clean.length, protocol: 'oscar', action: 'allow' });
}, 60_000);

/** alice offers `name` to bob (04/06, request 1, her own address); bob answers with a reverse proposal (request 2) naming where he listens. */
async function reverseOffer(name: string, size: number, bobPort: number, reqId: number): Promise<void> {
  const cookie = crypto.randomBytes(8);
  const before = oscar.fromAlice.length;
  oscar.aliceSends(fileOfferOutAt(reqId, 'bob', name, size, { ip: '127.0.0.1', port: 1, cookie }));
  expect(await oscar.fromAlice.until((b) => b.subarray(before).includes(cookie))).toBe(true);
  const at = oscar.atAlice.length;
  oscar.toAlice(fileOfferInAt(reqId + 1, 'bob', name, size, { ip: '127.0.0.1', port: bobPort, cookie, requestNumber: 2 }));
  expect(await oscar.atAlice.until((b) => b.subarray(at).includes(cookie))).toBe(true);
}

test('reverse connection (request 2): alice dials bob and sends; a clean file arrives whole, an infected one arrives short, each with its event', async () => {
  const clean = crypto.randomBytes(90 * 1024);
  let bobGot: Promise<Got[]> = Promise.resolve([]);
  const port = await listen((s) => {
    bobGot = oftReceiver(s);
  });
  await reverseOffer('slides.ppt', clean.length, port, 110);
  const dones = await oftSend(await viaSocks(port), [{ name: 'slides.ppt', data: clean }]);
  expect(dones).toBe(1);
  const got = await bobGot;
  expect(got.map((f) => [f.name, f.done, sha(f.bytes)])).toEqual([['slides.ppt', true, sha(clean)]]);
  const ev = await gw.waitLog(transferEvent('slides.ppt'), 15_000);
  expect(ev).toMatchObject({ protocol: 'oscar', action: 'allow', direction: 'out', account: 'alice', peer: 'bob', file: { name: 'slides.ppt', size: clean.length, sha256: sha(clean) } });
  expect(ev?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd', file_from: 'client' });

  const bad = Buffer.concat([crypto.randomBytes(70 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(30 * 1024)]);
  let bobGot2: Promise<Got[]> = Promise.resolve([]);
  const port2 = await listen((s) => {
    bobGot2 = oftReceiver(s);
  });
  await reverseOffer('macro.xls', bad.length, port2, 112);
  expect(await oftSend(await viaSocks(port2), [{ name: 'macro.xls', data: bad }])).toBe(0);
  const got2 = await bobGot2;
  expect(got2).toHaveLength(1);
  const partial = (got2[0] as Got).bytes;
  expect((got2[0] as Got).done).toBe(false);
  expect(partial.length).toBeLessThanOrEqual(bad.length - 8192);
  expect(partial.equals(bad.subarray(0, partial.length))).toBe(true);
  const ev2 = await gw.waitLog(transferEvent('macro.xls'), 15_000);
  expect(ev2).toMatchObject({ action: 'block', rule: 'av:clamd', file: { name: 'macro.xls', size: bad.length, sha256: sha(bad) } });
}, 60_000);
