// An IRC DCC SEND data connection crossing imgate: bob (direct to ngircd)
// offers a file to alice (through imgate's SOCKS5 door); the offer passes
// alice's inspected tunnel, so when alice connects to the offered address
// through the gateway the connection is known as that transfer. Both ends
// speak DCC: alice acknowledges every byte with the 4-byte running total,
// bob closes once the whole size is acknowledged. Real clamd (custom
// signature) scans the data as it passes and the gateway holds the last
// 8 KiB until the verdict: a clean file arrives byte-identical and the DCC
// exchange completes; an infected one never arrives whole, the connection
// is cut, and the block event names the signature.
import crypto from 'node:crypto';
import net from 'node:net';
import { SocksClient } from 'socks';
import { AV_MARKER, AV_SIGNATURE, Clamd } from './helpers/clamd';
import { Gateway, type LogLine } from './helpers/gateway';
import { IrcClient } from './helpers/irc-client';
import { Ngircd } from './helpers/ngircd';
import { sleep } from './helpers/ports';

let ircd: Ngircd;
let clamd: Clamd;
let gw: Gateway;
let alice: IrcClient;
let bob: IrcClient;
const servers: net.Server[] = [];

type Row = Record<string, unknown>;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

interface Outcome {
  /** What alice received. */
  got: Buffer;
  /** The highest acknowledgement bob read back. */
  acked: number;
  /** alice's connection ended by FIN from the gateway (not reset). */
  finished: boolean;
}

/** bob serves `file` as a DCC sender (closes after the final ack); alice fetches it through the gateway, acking as DCC receivers do. */
async function dcc(name: string, file: Buffer): Promise<Outcome> {
  let acked = 0;
  let ackBuf = Buffer.alloc(0);
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.write(file);
    s.on('data', (d: Buffer) => {
      ackBuf = Buffer.concat([ackBuf, d]);
      while (ackBuf.length >= 4) {
        acked = ackBuf.readUInt32BE(0);
        ackBuf = ackBuf.subarray(4);
      }
      if (acked === file.length) s.end();
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  bob.ctcp('alice', 'DCC', 'SEND', name, '2130706433', String(port), String(file.length));
  expect(await alice.waitLine((l) => l.includes(`DCC SEND ${name}`))).not.toBeNull();

  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.ports.socks5, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
    timeout: 5000,
  });
  const got: Buffer[] = [];
  let n = 0;
  let finished = false;
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    got.push(d);
    n += d.length;
    const ack = Buffer.alloc(4);
    ack.writeUInt32BE(n >>> 0);
    socket.write(ack);
  });
  socket.once('end', () => {
    finished = true;
    socket.end();
  });
  await new Promise<void>((r) => socket.once('close', () => r()));
  return { got: Buffer.concat(got), acked, finished };
}

const transferEvent = (name: string) => (l: LogLine): boolean =>
  l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === name && (l.detail as Row | undefined)?.transfer !== undefined;

beforeAll(async () => {
  [ircd, clamd] = await Promise.all([Ngircd.start(), Clamd.start()]);
  // The record store is not under test here.
  gw = await Gateway.start({ name: 'im-dcc', config: { audit: { enabled: false }, av: { scanners: [{ name: 'clamd', type: 'clamd', port: clamd.port }] } } });
  bob = await IrcClient.connect({ port: ircd.port, nick: 'bob' });
  alice = await IrcClient.connect({ port: ircd.port, nick: 'alice', socks: { host: '127.0.0.1', port: gw.ports.socks5 } });
}, 90000);

afterAll(async () => {
  alice?.quit();
  bob?.quit();
  for (const s of servers) s.close();
  await sleep(200);
  await Promise.allSettled([gw?.cleanup(), ircd?.stop(), clamd?.cleanup()]);
}, 60000);

test('a clean DCC file: byte-identical, every byte acknowledged, the connection ends normally, a complete file event', async () => {
  // 300 KiB of non-repeating bytes: many chunks, so the hash and the scan are per chunk.
  const file = crypto.randomBytes(300 * 1024);
  const r = await dcc('report.pdf', file);
  expect(r.got.length).toBe(file.length);
  expect(sha(r.got)).toBe(sha(file));
  expect(r.acked).toBe(file.length);
  expect(r.finished).toBe(true);

  const ev = await gw.waitLog(transferEvent('report.pdf'), 15000);
  expect(ev).toMatchObject({ protocol: 'irc', action: 'allow', file: { name: 'report.pdf', size: file.length, sha256: sha(file) } });
  expect(ev?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd' });
}, 60000);

test('an infected DCC file never arrives whole: cut before its last bytes, block event with the signature', async () => {
  const file = Buffer.concat([crypto.randomBytes(200 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(50 * 1024)]);
  const r = await dcc('setup.exe', file);
  expect(r.got.length).toBeLessThan(file.length);
  // Held back: the last 8 KiB never left the gateway.
  expect(r.got.length).toBeLessThanOrEqual(file.length - 8192);
  expect(r.got.equals(file.subarray(0, r.got.length))).toBe(true);
  expect(r.acked).toBeLessThan(file.length);

  const ev = await gw.waitLog(transferEvent('setup.exe'), 15000);
  expect(ev).toMatchObject({ protocol: 'irc', action: 'block', rule: 'av:clamd', file: { name: 'setup.exe', size: file.length, sha256: sha(file) } });
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
  const cut = await gw.waitLog((l) => l.msg === 'tunnel closed' && String(l.reason).includes('setup.exe'), 5000);
  expect(String(cut?.reason)).toContain(AV_SIGNATURE);
}, 60000);
