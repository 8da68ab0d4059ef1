// Files sent in-band (XEP-0047 IBB) through imgate, with real Prosody, two
// real @xmpp/client clients (alice through imgate's SOCKS5 door, bob
// direct), real clamd (custom signature) and the record store with its file
// archive: a clean file reaches bob byte-identical, its completed-transfer
// event carries the exact size and sha256 and `imgate files` lists it with
// its archive path; a file with the AV marker never reaches bob whole (its
// final data stanza waits for the verdict and is refused: alice gets an
// error, bob an IBB <close/>), gets a block event naming the signature and
// is not archived. Both with a sender that sends everything at once and one
// that waits for each chunk's answer before the next (no deadlock), and for
// an inbound file (bob to alice: alice gets the gateway's <close/>).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { AV_MARKER, AV_SIGNATURE, Clamd } from './helpers/clamd';
import { Gateway, IMGATE_BIN, type LogLine } from './helpers/gateway';
import { sleep } from './helpers/ports';
import { Prosody, XMPP_DOMAIN } from './helpers/prosody';
import { SocksForwarder } from './helpers/socks-forwarder';
import { XmppClient, type XmlEl } from './helpers/xmpp-client';

const NS_IBB = 'http://jabber.org/protocol/ibb';
const NS_SI = 'http://jabber.org/protocol/si';
const NS_FT = 'http://jabber.org/protocol/si/profile/file-transfer';
const BOB = `bob@${XMPP_DOMAIN}/t`;
const ALICE = `alice@${XMPP_DOMAIN}`;

let prosody: Prosody;
let clamd: Clamd;
let gw: Gateway;
let fwd: SocksForwarder;
const clients: XmppClient[] = [];
let alice: XmppClient;
let bob: XmppClient;

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
type Row = Record<string, unknown>;

function filesCli(): Row[] {
  const r = spawnSync(process.execPath, [IMGATE_BIN, 'files', '--json', '--config', gw.configPath], { encoding: 'utf8', timeout: 30000 });
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

async function online(c: XmppClient): Promise<void> {
  const ev = await c.waitFor((e) => e.ev === 'online' || e.ev === 'start-failed' || e.ev === 'error', 15000);
  if (ev?.ev !== 'online') throw new Error(`client not online: ${JSON.stringify(ev)} ${c.stderr}`);
}

/** alice offers (SI) and sends `file` in-band to bob; the base64 is cut in pieces of `cut` characters (quartets split across stanzas). */
function sendFile(sid: string, name: string, file: Buffer, cut: number): void {
  const iq = (id: string, child: XmlEl): XmlEl => ({ name: 'iq', attrs: { type: 'set', to: BOB, id }, children: [child] });
  alice.send(iq(`si-${sid}`, { name: 'si', attrs: { xmlns: NS_SI, id: sid, profile: NS_FT }, children: [{ name: 'file', attrs: { xmlns: NS_FT, name, size: String(file.length) } }] }));
  alice.send(iq(`open-${sid}`, { name: 'open', attrs: { xmlns: NS_IBB, sid, 'block-size': '4096', stanza: 'iq' } }));
  const b64 = file.toString('base64');
  for (let i = 0, seq = 0; i < b64.length; i += cut, seq++) {
    alice.send(iq(`d-${sid}-${seq}`, { name: 'data', attrs: { xmlns: NS_IBB, sid, seq: String(seq) }, children: [b64.slice(i, i + cut)] }));
  }
  alice.send(iq(`close-${sid}`, { name: 'close', attrs: { xmlns: NS_IBB, sid } }));
}

/** alice sends `file` in-band like a sender that waits for each chunk's answer (result or error) before the next. */
async function sendFileLockstep(sid: string, name: string, file: Buffer, cut: number): Promise<void> {
  const iq = (id: string, child: XmlEl): XmlEl => ({ name: 'iq', attrs: { type: 'set', to: BOB, id }, children: [child] });
  const answered = (id: string) => alice.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes(`id="${id}"`), 15000);
  alice.send(iq(`si-${sid}`, { name: 'si', attrs: { xmlns: NS_SI, id: sid, profile: NS_FT }, children: [{ name: 'file', attrs: { xmlns: NS_FT, name, size: String(file.length) } }] }));
  alice.send(iq(`open-${sid}`, { name: 'open', attrs: { xmlns: NS_IBB, sid, 'block-size': '4096', stanza: 'iq' } }));
  expect(await answered(`open-${sid}`)).not.toBeNull();
  const b64 = file.toString('base64');
  for (let i = 0, seq = 0; i < b64.length; i += cut, seq++) {
    alice.send(iq(`d-${sid}-${seq}`, { name: 'data', attrs: { xmlns: NS_IBB, sid, seq: String(seq) }, children: [b64.slice(i, i + cut)] }));
    // A held non-final chunk would never be answered: this wait would time out.
    expect(await answered(`d-${sid}-${seq}`)).not.toBeNull();
  }
  alice.send(iq(`close-${sid}`, { name: 'close', attrs: { xmlns: NS_IBB, sid } }));
}

/** bob's data payloads of `sid`, joined and decoded. */
function bobData(sid: string): Buffer {
  const re = new RegExp(`<data[^>]*sid="${sid}"[^>]*>([^<]*)</data>`);
  const b64 = bob
    .stanzas()
    .map((x) => re.exec(x)?.[1])
    .filter((x): x is string => x !== undefined)
    .join('');
  return Buffer.from(b64, 'base64');
}

/** Waits until bob's stream of `sid` is closed (by alice's <close/> or the gateway's) and returns what bob received. */
async function bobClosed(sid: string): Promise<{ got: Buffer; closeXml: string } | null> {
  const closed = await bob.waitFor((e) => e.ev === 'stanza' && /<close /.test(e.xml ?? '') && (e.xml ?? '').includes(`sid="${sid}"`), 15000);
  if (closed === null) return null;
  return { got: bobData(sid), closeXml: closed.xml ?? '' };
}

/** What bob received of `sid`: the data payloads joined and decoded, once the close arrived. */
async function bobGot(sid: string): Promise<Buffer | null> {
  const closed = await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes(`id="close-${sid}"`), 15000);
  if (closed === null) return null;
  const re = new RegExp(`<data[^>]*sid="${sid}"[^>]*>([^<]*)</data>`);
  const b64 = bob
    .stanzas()
    .map((x) => re.exec(x)?.[1])
    .filter((x): x is string => x !== undefined)
    .join('');
  return Buffer.from(b64, 'base64');
}

const transferEvent = (name: string) => (l: LogLine): boolean =>
  l.msg === 'im event' && l.kind === 'file' && (l.file as Row | undefined)?.name === name && (l.detail as Row | undefined)?.transfer !== undefined;

beforeAll(async () => {
  [prosody, clamd] = await Promise.all([
    Prosody.start([
      { name: 'alice', password: 'alicepw' },
      { name: 'bob', password: 'bobpw' },
    ]),
    Clamd.start(),
  ]);
  gw = await Gateway.start({ name: 'im-files-xmpp', config: { av: { scanners: [{ name: 'clamd', type: 'clamd', port: clamd.port }] } } });
  fwd = await SocksForwarder.start(gw.ports.socks5, { host: '127.0.0.1', port: prosody.c2sPort });
  bob = new XmppClient(`xmpp://127.0.0.1:${prosody.c2sPort}`, XMPP_DOMAIN, 'bob', 'bobpw');
  alice = new XmppClient(`xmpp://127.0.0.1:${fwd.port}`, XMPP_DOMAIN, 'alice', 'alicepw');
  clients.push(bob, alice);
  await Promise.all([online(bob), online(alice)]);
}, 90000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.stop()));
  await Promise.allSettled([fwd?.close()]);
  await sleep(100);
  await Promise.allSettled([gw?.cleanup(), prosody?.cleanup(), clamd?.cleanup()]);
}, 60000);

test('a clean IBB file arrives byte-identical, is recorded with its exact sha256/size and archived', async () => {
  const file = crypto.randomBytes(40 * 1024 + 7);
  sendFile('ibb-clean', 'quarterly.pdf', file, 3001);
  const got = await bobGot('ibb-clean');
  expect(got?.equals(file)).toBe(true);

  const ev = await gw.waitLog(transferEvent('quarterly.pdf'), 15000);
  expect(ev).toMatchObject({ protocol: 'xmpp', account: ALICE, peer: `bob@${XMPP_DOMAIN}`, direction: 'out', action: 'allow', file: { name: 'quarterly.pdf', size: file.length, sha256: sha(file) } });
  const detail = ev?.detail as Row;
  expect(detail).toMatchObject({ via: 'ibb', sid: 'ibb-clean', transfer: 'complete', scanner: 'clamd' });
  const stored = detail.stored_path as string;
  expect(fs.readFileSync(path.join(gw.dir, 'var', stored)).equals(file)).toBe(true);

  let rows: Row[] = [];
  for (let i = 0; i < 50 && !rows.some((r) => r.sha256 === sha(file)); i++) {
    rows = filesCli();
    await sleep(200);
  }
  expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'quarterly.pdf', size: file.length, sha256: sha(file), protocol: 'xmpp', account: ALICE, action: 'allow', stored_path: stored })]));
}, 60000);

test('an IBB file with the AV marker never reaches bob whole: final stanza refused, bob gets a <close/>, block event with the signature, not archived', async () => {
  const file = Buffer.concat([crypto.randomBytes(6000), Buffer.from(`payload ${AV_MARKER} payload`), crypto.randomBytes(3000)]);
  sendFile('ibb-bad', 'invoice.exe', file, 4096);
  const bobs = await bobClosed('ibb-bad');
  expect(bobs).not.toBeNull();
  expect(bobs?.got.length).toBeLessThan(file.length);
  expect(bobs?.got.equals(file.subarray(0, bobs.got.length))).toBe(true);
  // The gateway's close (alice's own close was refused with the final chunk).
  expect(bobs?.closeXml).toMatch(/id="imgate-\d+"/);
  expect(bob.stanzas().some((x) => x.includes('id="close-ibb-bad"'))).toBe(false);
  const refused = await alice.waitFor((e) => e.ev === 'stanza' && /type="error"/.test(e.xml ?? '') && (e.xml ?? '').includes('id="close-ibb-bad"') && (e.xml ?? '').includes('rule av:clamd'), 8000);
  expect(refused).not.toBeNull();
  const ev = await gw.waitLog(transferEvent('invoice.exe'), 15000);
  expect(ev).toMatchObject({ protocol: 'xmpp', account: ALICE, action: 'block', rule: 'av:clamd', file: { name: 'invoice.exe', size: file.length, sha256: sha(file) } });
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
  expect((ev?.detail as Row).stored_path).toBeUndefined();
  expect(fs.existsSync(path.join(gw.dir, 'var', 'files', sha(file).slice(0, 2), sha(file)))).toBe(false);
  // The session goes on: a message still arrives.
  alice.message(BOB, 'after the file', 'after1');
  expect(await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('id="after1"'))).not.toBeNull();
}, 60000);

test('a sender that waits for every answer: a clean file completes byte-identical (nothing but the final chunk is ever held)', async () => {
  const file = crypto.randomBytes(20 * 1024 + 3);
  await sendFileLockstep('ibb-step', 'minutes.odt', file, 4096);
  const got = await bobGot('ibb-step');
  expect(got?.equals(file)).toBe(true);
  const ev = await gw.waitLog(transferEvent('minutes.odt'), 15000);
  expect(ev).toMatchObject({ action: 'allow', file: { name: 'minutes.odt', size: file.length, sha256: sha(file) } });
  expect(ev?.detail as Row).toMatchObject({ transfer: 'complete', scanner: 'clamd' });
}, 60000);

test('a sender that waits for every answer, infected: its final chunk is refused, bob never holds the whole file', async () => {
  const file = Buffer.concat([crypto.randomBytes(12_000), Buffer.from(`payload ${AV_MARKER} payload`), crypto.randomBytes(5000)]);
  await sendFileLockstep('ibb-step-bad', 'update.exe', file, 4096);
  const bobs = await bobClosed('ibb-step-bad');
  expect(bobs?.got.length).toBeLessThan(file.length);
  expect(bobs?.got.equals(file.subarray(0, bobs.got.length))).toBe(true);
  const ev = await gw.waitLog(transferEvent('update.exe'), 15000);
  expect(ev).toMatchObject({ action: 'block', rule: 'av:clamd', file: { name: 'update.exe', size: file.length, sha256: sha(file) } });
  expect(String((ev?.detail as Row).signature)).toMatch(new RegExp(`^${AV_SIGNATURE.replace(/\./g, '\\.')}`));
}, 60000);

test('an inbound infected IBB file (bob to alice) never reaches alice whole: alice gets an IBB <close/> from bob, bob an error', async () => {
  const aliceJid = (await alice.waitFor((e) => e.ev === 'online'))?.jid as string;
  const sid = 'ibb-in-bad';
  const file = Buffer.concat([crypto.randomBytes(8000), Buffer.from(`payload ${AV_MARKER} payload`), crypto.randomBytes(4000)]);
  const iq = (id: string, child: XmlEl): XmlEl => ({ name: 'iq', attrs: { type: 'set', to: aliceJid, id }, children: [child] });
  bob.send(iq(`si-${sid}`, { name: 'si', attrs: { xmlns: NS_SI, id: sid, profile: NS_FT }, children: [{ name: 'file', attrs: { xmlns: NS_FT, name: 'inbound.exe', size: String(file.length) } }] }));
  bob.send(iq(`open-${sid}`, { name: 'open', attrs: { xmlns: NS_IBB, sid, 'block-size': '4096', stanza: 'iq' } }));
  const b64 = file.toString('base64');
  for (let i = 0, seq = 0; i < b64.length; i += 4096, seq++) {
    bob.send(iq(`d-${sid}-${seq}`, { name: 'data', attrs: { xmlns: NS_IBB, sid, seq: String(seq) }, children: [b64.slice(i, i + 4096)] }));
  }
  bob.send(iq(`close-${sid}`, { name: 'close', attrs: { xmlns: NS_IBB, sid } }));

  const closed = await alice.waitFor((e) => e.ev === 'stanza' && /<close /.test(e.xml ?? '') && (e.xml ?? '').includes(`sid="${sid}"`), 15000);
  expect(closed?.xml).toMatch(/id="imgate-\d+"/);
  const re = new RegExp(`<data[^>]*sid="${sid}"[^>]*>([^<]*)</data>`);
  const got = Buffer.from(
    alice
      .stanzas()
      .map((x) => re.exec(x)?.[1])
      .filter((x): x is string => x !== undefined)
      .join(''),
    'base64',
  );
  expect(got.length).toBeLessThan(file.length);
  expect(got.equals(file.subarray(0, got.length))).toBe(true);
  expect(alice.stanzas().some((x) => x.includes(`id="close-${sid}"`))).toBe(false);
  expect(await bob.waitFor((e) => e.ev === 'stanza' && /type="error"/.test(e.xml ?? '') && (e.xml ?? '').includes(`id="close-${sid}"`), 8000)).not.toBeNull();
  const ev = await gw.waitLog(transferEvent('inbound.exe'), 15000);
  expect(ev).toMatchObject({ protocol: 'xmpp', direction: 'in', action: 'block', rule: 'av:clamd', file: { name: 'inbound.exe', size: file.length, sha256: sha(file) } });
  // alice's session goes on.
  alice.message(BOB, 'still here', 'after2');
  expect(await bob.waitFor((e) => e.ev === 'stanza' && (e.xml ?? '').includes('id="after2"'))).not.toBeNull();
}, 60000);
