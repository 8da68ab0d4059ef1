// IRC DCC SEND data crossing imgate, scanned and archived: real ngircd, real
// clamd (custom signature), the record store with its file archive. bob
// (direct) offers files to alice (through imgate's SOCKS5 door); alice's data
// connection to the offered address crosses the gateway. A clean file arrives
// unchanged, is recorded with its exact sha256/size and listed by `imgate
// files` with its archive path; a file with the AV marker gets a block event
// naming the signature and is not archived.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SocksClient } from 'socks';
import { AV_MARKER, AV_SIGNATURE, Clamd } from './helpers/clamd';
import { Gateway, IMGATE_BIN, type LogLine } from './helpers/gateway';
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

function filesCli(): Row[] {
  const r = spawnSync(process.execPath, [IMGATE_BIN, 'files', '--json', '--config', gw.configPath], { encoding: 'utf8', timeout: 30000 });
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

/** bob serves `file` on a fresh port and offers it; alice fetches it through the gateway. Returns what alice received. */
async function transfer(name: string, file: Buffer): Promise<Buffer> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end(file);
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
  socket.on('data', (d: Buffer) => got.push(d));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => {
    socket.once('end', r);
    socket.once('close', r);
  });
  socket.end();
  return Buffer.concat(got);
}

const transferEvent = (name: string) => (l: LogLine): boolean =>
  l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === name && (l.detail as Row | undefined)?.transfer !== undefined;

beforeAll(async () => {
  [ircd, clamd] = await Promise.all([Ngircd.start(), Clamd.start()]);
  gw = await Gateway.start({ name: 'im-files-dcc', config: { av: { scanners: [{ name: 'clamd', type: 'clamd', port: clamd.port }], spool_threshold_bytes: 65536 } } });
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

test('a clean DCC file arrives unchanged, is scanned, recorded with exact sha256/size and archived', async () => {
  // Past the spool threshold: the scanner reads it from disk, never whole in memory.
  const file = crypto.randomBytes(700 * 1024);
  const got = await transfer('budget.xlsx', file);
  expect(sha(got)).toBe(sha(file));

  const ev = await gw.waitLog(transferEvent('budget.xlsx'), 15000);
  expect(ev).toMatchObject({ protocol: 'irc', action: 'allow', file: { name: 'budget.xlsx', size: file.length, sha256: sha(file) } });
  const detail = ev?.detail as Row;
  expect(detail).toMatchObject({ transfer: 'complete', scanner: 'clamd' });
  const stored = detail.stored_path as string;
  expect(fs.readFileSync(path.join(gw.dir, 'var', stored)).equals(file)).toBe(true);

  let rows: Row[] = [];
  for (let i = 0; i < 50 && !rows.some((r) => r.sha256 === sha(file)); i++) {
    rows = filesCli();
    await sleep(200);
  }
  expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'budget.xlsx', size: file.length, sha256: sha(file), protocol: 'irc', action: 'allow', stored_path: stored })]));
}, 60000);

test('a DCC file with the AV marker: block event with the signature name, not archived', async () => {
  const file = Buffer.concat([crypto.randomBytes(200 * 1024), Buffer.from(`x ${AV_MARKER} x`), crypto.randomBytes(1000)]);
  await transfer('setup.exe', file);
  const ev = await gw.waitLog(transferEvent('setup.exe'), 15000);
  expect(ev).toMatchObject({ protocol: 'irc', action: 'block', rule: 'av:clamd', file: { name: 'setup.exe', size: file.length, sha256: sha(file) } });
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
  expect((ev?.detail as Row).stored_path).toBeUndefined();
  expect(fs.existsSync(path.join(gw.dir, 'var', 'files', sha(file).slice(0, 2), sha(file)))).toBe(false);
  let rows: Row[] = [];
  for (let i = 0; i < 50 && !rows.some((r) => r.sha256 === sha(file)); i++) {
    rows = filesCli();
    await sleep(200);
  }
  expect(rows.find((r) => r.sha256 === sha(file))).toMatchObject({ name: 'setup.exe', action: 'block', rule: 'av:clamd', stored_path: null });
}, 60000);
