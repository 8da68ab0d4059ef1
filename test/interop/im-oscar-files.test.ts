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
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { SocksClient } from 'socks';
import { fileOfferInAt, flap, frames, HELLO, loginCh1, oftHeader, snac, snacId } from '../unit/protocols/oscar/frames';
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
let oscar: { toAlice: (snacPayload: Buffer) => void; fromAlice: Inbox; atAlice: Inbox };

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
  oscar = { toAlice: (p) => sock.write(flap(2, seq++, p)), fromAlice: inbox, atAlice };
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
async function propose(name: string, size: number, port: number, reqId: number): Promise<boolean> {
  const cookie = crypto.randomBytes(8);
  const before = oscar.atAlice.length;
  oscar.toAlice(fileOfferInAt(reqId, 'bob', name, size, { ip: '127.0.0.1', port, cookie }));
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
