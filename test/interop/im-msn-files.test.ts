// MSN file data over a switchboard, through imgate's SOCKS5 door, scanned by
// real clamd (custom signature). The switchboard is SCRIPTED: no MSN server
// exists any more and no capture holds a file transfer, so a small TCP peer
// plays Bob's side of a switchboard session (IRO/ANS, an MSNSLP INVITE, then
// the file as MSNP2P version 1 data MSGs built from the spec in
// test/unit/protocols/msnp/slp-fixture.ts, or as version 2 (MSNP16+)
// packets in libpurple 2.10's layout, see src/protocols/msnp/p2p.ts for
// what is assumed there). Alice is a raw socket through
// the gateway. A clean file arrives byte-identical and gets a 'file' event
// with its exact sha256; a file with the AV marker gets a block event naming
// the signature, and its receiver never gets it whole: the MSG carrying its
// last chunk waits for clamd's verdict and is dropped, and both ends get an
// MSNSLP BYE for the call instead (src/protocols/msnp/verdict-hold.ts).
import crypto from 'node:crypto';
import net from 'node:net';
import { SocksClient } from 'socks';
import { ackMsg, ackMsgV2, dataMsgs, dataMsgsV2, fileBytesIn, fileBytesInV2, inviteText, okText, p2pMsgs, p2pV2Msgs } from '../unit/protocols/msnp/slp-fixture';
import { AV_MARKER, AV_SIGNATURE, Clamd } from './helpers/clamd';
import { Gateway, type LogLine } from './helpers/gateway';
import { sleep } from './helpers/ports';

const A = 'alice@hotmail.com';
const Bob = 'bob@hotmail.com';
type Row = Record<string, unknown>;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

let clamd: Clamd;
let gw: Gateway;
const servers: net.Server[] = [];

beforeAll(async () => {
  clamd = await Clamd.start();
  gw = await Gateway.start({
    name: 'im-msn-files',
    config: { audit: { enabled: false }, av: { scanners: [{ name: 'clamd', type: 'clamd', port: clamd.port }], spool_threshold_bytes: 65536 } },
  });
}, 90000);

afterAll(async () => {
  for (const s of servers) s.close();
  await sleep(100);
  await Promise.allSettled([gw?.cleanup(), clamd?.cleanup()]);
}, 60000);

/** Reads from `sock` until `pred` holds on everything received (or the timeout). */
function readUntil(sock: net.Socket, got: Buffer[], pred: (all: Buffer) => boolean, ms = 10000): Promise<boolean> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (pred(Buffer.concat(got))) done(true);
    };
    const timer = setTimeout(() => done(false), ms);
    const done = (v: boolean): void => {
      clearTimeout(timer);
      sock.off('data', check);
      resolve(v);
    };
    sock.on('data', check);
    check();
  });
}

/**
 * One switchboard session: Alice answers Bob's invitation through the
 * gateway, Bob (scripted) sends `file` as `name`, Alice accepts and acks.
 * `refused`: the gateway is expected to cancel the transfer; Alice waits for
 * the BYE instead of the whole file (and does not ack), Bob ends when he
 * gets his. Returns what each end received.
 */
async function session(name: string, file: Buffer, sessionId: number, refused = false, version: 1 | 2 = 1): Promise<{ alice: Buffer; bob: Buffer; bobSent: Buffer; aliceSent: Buffer }> {
  const call = { sessionId, callId: `{6A8E1C4B-0000-4000-8000-${String(sessionId).padStart(12, '0')}}` };
  // MSNP16+ SLP addresses carry the endpoint GUID.
  const bobSlp = version === 1 ? Bob : `${Bob};{0F7D6D0B-2C4D-4C6B-8F15-1F4D2C9B6E01}`;
  const aliceSlp = version === 1 ? A : `${A};{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}`;
  const inviteSlp = inviteText(bobSlp, aliceSlp, name, file.length, undefined, call);
  const okSlp = okText(aliceSlp, bobSlp, sessionId, call.callId);
  const invite = Buffer.concat(version === 1 ? p2pMsgs(inviteSlp, { id: 100, dest: A, server: { from: Bob } }) : p2pV2Msgs(inviteSlp, { dest: A, server: { from: Bob }, packageNumber: 5 }));
  const data = Buffer.concat(version === 1 ? dataMsgs(file, { sessionId, id: 101, dest: A, server: { from: Bob } }) : dataMsgsV2(file, { sessionId, dest: A, server: { from: Bob }, packageNumber: 6 }));
  const answer = Buffer.from(`ANS 1 ${A} 849102291.520491113 11752013\r\n`);
  const ok = Buffer.concat(version === 1 ? p2pMsgs(okSlp, { id: 500, dest: Bob, client: { trid: 2 } }) : p2pV2Msgs(okSlp, { dest: Bob, client: { trid: 2 }, packageNumber: 1 }));
  const ack = version === 1 ? ackMsg(sessionId, file.length, 101, Bob, { client: { trid: 3 } }) : ackMsgV2(0x2a000000 + file.length, Bob, { client: { trid: 3 } });
  const hello = Buffer.from(`IRO 1 1 1 ${Bob} Bob\r\nANS 1 OK\r\n`);

  const bobGot: Buffer[] = [];
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    // The script: greet after ANS, INVITE, data after the 200 OK, end after the ack.
    let stage = 0;
    s.on('data', (d: Buffer) => {
      bobGot.push(d);
      const all = Buffer.concat(bobGot);
      if (stage === 0 && all.length >= answer.length) {
        stage = 1;
        s.write(Buffer.concat([hello, invite]));
      }
      if (stage === 1 && all.length >= answer.length + ok.length) {
        stage = 2;
        s.write(data);
      }
      const done = refused ? all.includes(`BYE MSNMSGR:${Bob}`) : all.length >= answer.length + ok.length + ack.length;
      if (stage === 2 && done) {
        stage = 3;
        s.end('OUT\r\n');
      }
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;

  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.ports.socks5, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
    timeout: 5000,
  });
  socket.on('error', () => undefined);
  const aliceGot: Buffer[] = [];
  socket.on('data', (d: Buffer) => aliceGot.push(d));
  const bobSent = Buffer.concat([hello, invite, data, Buffer.from('OUT\r\n')]);
  socket.write(answer);
  expect(await readUntil(socket, aliceGot, (all) => all.length >= hello.length + invite.length)).toBe(true);
  socket.write(ok);
  if (refused) {
    expect(await readUntil(socket, aliceGot, (all) => all.includes(`BYE MSNMSGR:${A}`))).toBe(true);
  } else {
    expect(await readUntil(socket, aliceGot, (all) => all.length >= hello.length + invite.length + data.length)).toBe(true);
    socket.write(ack);
  }
  await new Promise<void>((r) => {
    socket.once('end', r);
    socket.once('close', r);
  });
  socket.end();
  return { alice: Buffer.concat(aliceGot), bob: Buffer.concat(bobGot), bobSent, aliceSent: Buffer.concat(refused ? [answer, ok] : [answer, ok, ack]) };
}

const transferEvent = (name: string) => (l: LogLine): boolean =>
  l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === name && (l.detail as Row | undefined)?.transfer !== undefined;

test('a clean file over a (scripted) switchboard: byte-identical both ways, scanned, a file event with its sha256', async () => {
  const file = crypto.randomBytes(200 * 1024);
  const r = await session('budget.xlsx', file, 31337);
  expect(r.alice.equals(r.bobSent)).toBe(true);
  expect(r.bob.equals(r.aliceSent)).toBe(true);
  const ev = await gw.waitLog(transferEvent('budget.xlsx'), 15000);
  expect(ev).toMatchObject({ protocol: 'msnp', action: 'allow', account: A, peer: Bob, file: { name: 'budget.xlsx', size: file.length, sha256: sha(file) } });
  expect(ev?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd', via: 'switchboard', sessionId: 31337 });
}, 60000);

test('a file with the AV marker over the switchboard: never arrives whole, both ends get a BYE, block event with the signature name', async () => {
  const file = Buffer.concat([crypto.randomBytes(50 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(3000)]);
  const r = await session('setup.exe', file, 4242, true);
  // Alice got every chunk but the last (1202-byte chunks: the one completing the file was held and dropped).
  const got = fileBytesIn(r.alice, 4242);
  expect(got).toBeLessThan(file.length);
  expect(got).toBe(file.length - (file.length % 1202 || 1202));
  const toAlice = r.alice.toString('latin1');
  expect(toAlice).toContain(`MSG ${Bob} ${Bob} `);
  expect(toAlice).toContain(`BYE MSNMSGR:${A} MSNSLP/1.0\r\nTo: <msnmsgr:${A}>\r\nFrom: <msnmsgr:${Bob}>`);
  expect(toAlice).toContain('Call-ID: {6A8E1C4B-0000-4000-8000-000000004242}');
  expect(toAlice.endsWith('OUT\r\n')).toBe(true);
  // Bob got Alice's answer, her 200 OK, then a BYE from her (a client MSG with ack type U).
  expect(r.bob.subarray(0, r.aliceSent.length).equals(r.aliceSent)).toBe(true);
  const toBob = r.bob.subarray(r.aliceSent.length).toString('latin1');
  expect(toBob).toMatch(/^MSG \d+ U \d+\r\n/);
  expect(toBob).toContain(`BYE MSNMSGR:${Bob} MSNSLP/1.0\r\nTo: <msnmsgr:${Bob}>\r\nFrom: <msnmsgr:${A}>`);
  const ev = await gw.waitLog(transferEvent('setup.exe'), 15000);
  expect(ev).toMatchObject({ protocol: 'msnp', action: 'block', rule: 'av:clamd', file: { name: 'setup.exe', size: file.length, sha256: sha(file) } });
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
}, 60000);

test('MSNP2P v2: a clean file over a (scripted) switchboard arrives byte-identical, recorded with its sha256', async () => {
  const file = crypto.randomBytes(150 * 1024);
  const r = await session('minutes-v2.pdf', file, 52001, false, 2);
  expect(r.alice.equals(r.bobSent)).toBe(true);
  expect(r.bob.equals(r.aliceSent)).toBe(true);
  expect(fileBytesInV2(r.alice, 52001)).toBe(file.length);
  const ev = await gw.waitLog(transferEvent('minutes-v2.pdf'), 15000);
  expect(ev).toMatchObject({ protocol: 'msnp', action: 'allow', account: A, peer: Bob, file: { name: 'minutes-v2.pdf', size: file.length, sha256: sha(file) } });
  expect(ev?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd', via: 'switchboard', sessionId: 52001, p2p: 2 });
}, 60000);

test('MSNP2P v2: a file with the AV marker never arrives whole, both ends get a BYE, block event with the signature name', async () => {
  const file = Buffer.concat([crypto.randomBytes(40 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(2000)]);
  const r = await session('setup-v2.exe', file, 52002, true, 2);
  // Alice got every packet but the completing one (1202-byte payloads).
  const got = fileBytesInV2(r.alice, 52002);
  expect(got).toBeLessThan(file.length);
  expect(got).toBe(file.length - (file.length % 1202 || 1202));
  const toAlice = r.alice.toString('latin1');
  expect(toAlice).toContain(`BYE MSNMSGR:${A} MSNSLP/1.0\r\nTo: <msnmsgr:${A}>\r\nFrom: <msnmsgr:${Bob}>`);
  expect(toAlice).toContain('Call-ID: {6A8E1C4B-0000-4000-8000-000000052002}');
  expect(toAlice.endsWith('OUT\r\n')).toBe(true);
  expect(r.bob.subarray(0, r.aliceSent.length).equals(r.aliceSent)).toBe(true);
  expect(r.bob.subarray(r.aliceSent.length).toString('latin1')).toContain(`BYE MSNMSGR:${Bob} MSNSLP/1.0\r\nTo: <msnmsgr:${Bob}>\r\nFrom: <msnmsgr:${A}>`);
  const ev = await gw.waitLog(transferEvent('setup-v2.exe'), 15000);
  expect(ev).toMatchObject({ protocol: 'msnp', action: 'block', rule: 'av:clamd', file: { name: 'setup-v2.exe', size: file.length, sha256: sha(file) } });
  expect((ev?.detail as Row).p2p).toBe(2);
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
}, 60000);
