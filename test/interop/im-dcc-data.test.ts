// An IRC DCC SEND data connection crossing imgate: bob (direct to ngircd)
// offers a file to alice (through imgate's SOCKS5 door); the offer passes
// alice's inspected tunnel, so when alice connects to the offered address
// through the gateway the connection is known as that transfer. The file
// bytes arrive unchanged, and the gateway records a completed 'file' event
// with the exact size and sha256 of what crossed it.
import crypto from 'node:crypto';
import net from 'node:net';
import { SocksClient } from 'socks';
import { Gateway } from './helpers/gateway';
import { IrcClient } from './helpers/irc-client';
import { Ngircd } from './helpers/ngircd';
import { sleep } from './helpers/ports';

let ircd: Ngircd;
let gw: Gateway;
let alice: IrcClient;
let bob: IrcClient;
let fileServer: net.Server;

afterAll(async () => {
  alice?.quit();
  bob?.quit();
  fileServer?.close();
  await sleep(200);
  await Promise.allSettled([gw?.cleanup(), ircd?.stop()]);
}, 30000);

test('DCC SEND data through the gateway: bytes unchanged, a file event with size and sha256', async () => {
  ircd = await Ngircd.start();
  // The record store is not under test here.
  gw = await Gateway.start({ name: 'im-dcc', config: { audit: { enabled: false } } });
  bob = await IrcClient.connect({ port: ircd.port, nick: 'bob' });
  alice = await IrcClient.connect({ port: ircd.port, nick: 'alice', socks: { host: '127.0.0.1', port: gw.ports.socks5 } });

  // 300 KiB of non-repeating bytes: several chunks, so the hash is per chunk.
  const file = crypto.randomBytes(300 * 1024);
  const sha = crypto.createHash('sha256').update(file).digest('hex');
  fileServer = net.createServer((s) => s.end(file));
  await new Promise<void>((r) => fileServer.listen(0, '127.0.0.1', r));
  const port = (fileServer.address() as net.AddressInfo).port;

  bob.ctcp('alice', 'DCC', 'SEND', 'report.pdf', '2130706433', String(port), String(file.length));
  expect(await alice.waitLine((l) => l.includes('DCC SEND report.pdf'))).not.toBeNull();

  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: gw.ports.socks5, type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port },
    timeout: 5000,
  });
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  await new Promise<void>((r) => socket.once('end', r));
  socket.end();
  expect(crypto.createHash('sha256').update(Buffer.concat(got)).digest('hex')).toBe(sha);

  const ev = await gw.waitLog((l) => l.msg === 'im event' && l.kind === 'file' && (l.detail as Record<string, unknown> | undefined)?.transfer !== undefined, 8000);
  expect(ev).toMatchObject({ protocol: 'irc', action: 'allow', file: { name: 'report.pdf', size: file.length, sha256: sha } });
  expect((ev?.detail as Record<string, unknown>).transfer).toBe('complete');
}, 45000);
