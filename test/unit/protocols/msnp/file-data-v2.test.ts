// MSNSLP file data in MSNP2P version 2 packets (MSNP16+), reassembled and
// hashed. SYNTHETIC: no capture of a v2 transfer exists, so the packets are
// built from libpurple 2.10's layout (src/protocols/msnp/p2p.ts,
// slp-fixture.ts v2 builders; what is assumed is named there). What a user
// would check: every byte forwarded unchanged; one completed 'file' event
// with the exact name, size and sha256; a gap, overlap, reorder or size
// mismatch named as partial; an infected file's completing chunk withheld.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { msnpModule } from '../../../../src/protocols/msnp';
import { buildByeV2, buildP2pV2, parseP2pV2, TF_FILE, TF_FIRST } from '../../../../src/protocols/msnp/p2p-v2';
import { P2pFiles, type MsnFileOffer } from '../../../../src/protocols/msnp/p2p-files';
import type { FileVerdict, VerdictSink } from '../../../../src/protocols/files/sink';
import type { EventDraft, FileDataSink, SessionContext, Side } from '../../../../src/protocols/types';
import { Harness } from './harness';
import { ackMsgV2, byeText, dataMsgs, dataMsgsV2, fileBytesInV2, inviteText, okText, p2pMsgs, p2pV2Msgs } from './slp-fixture';

const A = 'alice@hotmail.com';
const Bob = 'bob@hotmail.com';
// MSNP16+ SLP addresses carry the endpoint GUID.
const A_EP = `${A};{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}`;
const BOB_EP = `${Bob};{0F7D6D0B-2C4D-4C6B-8F15-1F4D2C9B6E01}`;
const ALLOW = { default: 'allow', rules: [] };
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const transfers = (h: Harness): EventDraft[] => h.ofKind('file').map((e) => e.draft).filter((d) => d.file?.sha256 !== undefined);
const summary = (h: Harness): unknown[] => transfers(h).map((d) => [d.file?.size, d.file?.sha256, d.detail?.['transfer'], d.detail?.['reassembly']]);

function switchboard(h: Harness): Harness {
  return h.client(`ANS 1 ${A} 849102291.520491113 11752013\r\n`).server(`IRO 1 1 1 ${Bob} Bob\r\n`).server('ANS 1 OK\r\n');
}

/** Bob sends `file` to Alice in v2 packets: INVITE (in 300-byte chunks: it spans MSGs), Alice's 200 OK, data, Alice's ACK. */
function inbound(file: Buffer, name: string, opts: { chunk?: number; sessionId?: number; callId?: string; total?: number; noFirst?: boolean; announced?: number } = {}) {
  const sessionId = opts.sessionId ?? 4711;
  const call = opts.callId === undefined ? { sessionId } : { sessionId, callId: opts.callId };
  const invite = p2pV2Msgs(inviteText(BOB_EP, A_EP, name, opts.announced ?? file.length, undefined, call), { dest: A, server: { from: Bob }, chunk: 300, packageNumber: 7 });
  const ok = p2pV2Msgs(okText(A_EP, BOB_EP, sessionId, opts.callId), { dest: Bob, client: { trid: 2 }, packageNumber: 3 });
  const data = dataMsgsV2(file, {
    sessionId,
    dest: A,
    server: { from: Bob },
    packageNumber: 8,
    ...(opts.chunk !== undefined ? { chunk: opts.chunk } : {}),
    ...(opts.total !== undefined ? { total: opts.total } : {}),
    ...(opts.noFirst === true ? { noFirst: true } : {}),
  });
  return { invite, ok, data, ack: ackMsgV2(0x2a000000 + file.length, Bob, { client: { trid: 3 } }) };
}

function run(h: Harness, t: ReturnType<typeof inbound>, data: Buffer[] = t.data): void {
  for (const m of t.invite) h.server(m);
  for (const m of t.ok) h.client(m);
  for (const m of data) h.server(m);
}

describe('msnp file data in MSNP2P v2 packets (synthetic, libpurple layout)', () => {
  it('the v2 header parser reads what the builder wrote (TLVs, padding, remaining, footer)', () => {
    const payload = crypto.randomBytes(100);
    const b = buildP2pV2({ opcode: 3, baseId: 0x01020304, headerTlvs: [[1, Buffer.alloc(12, 9)]], tf: TF_FILE | TF_FIRST, packageNumber: 0x0102, sessionId: 0xdeadbeef, remaining: 4900, payload, appId: 2 });
    const h = parseP2pV2(b);
    expect(h).toMatchObject({ headerLen: 24, opcode: 3, baseId: 0x01020304, tf: 7, packageNumber: 0x0102, sessionId: 0xdeadbeef, remaining: 4900, payloadLength: 100 });
    expect(b.subarray(h?.payloadStart, (h?.payloadStart ?? 0) + 100).equals(payload)).toBe(true);
    expect(b.readUInt32BE(b.length - 4)).toBe(2);
    // Truncated anywhere (the footer included): not a packet.
    for (let n = 0; n < b.length; n++) expect(parseP2pV2(b.subarray(0, n))).toBeNull();
  });

  it('an inbound v2 file: INVITE over 2+ MSGs, every byte forwarded unchanged, one complete file event with sha256', () => {
    const file = crypto.randomBytes(5000);
    const h = switchboard(new Harness(ALLOW));
    const t = inbound(file, 'report.pdf');
    expect(t.invite.length).toBeGreaterThan(1);
    const sBefore = h.clientGot;
    const cBefore = h.serverGot;
    run(h, t);
    h.client(t.ack);
    expect(h.clientGot).toBe(sBefore + Buffer.concat([...t.invite, ...t.data]).toString('latin1'));
    expect(h.serverGot).toBe(cBefore + Buffer.concat([...t.ok, t.ack]).toString('latin1'));
    expect(h.closed).toBeUndefined();
    expect(h.ofKind('file').map((e) => [e.draft.side, e.draft.peer, e.draft.file?.name, e.draft.file?.sha256 === undefined])).toEqual([
      ['s2c', Bob, 'report.pdf', true],
      ['s2c', Bob, 'report.pdf', false],
    ]);
    expect(transfers(h)[0]).toMatchObject({
      side: 's2c',
      account: A,
      peer: Bob,
      file: { name: 'report.pdf', size: 5000, sha256: sha(file) },
      detail: { via: 'switchboard', sessionId: 4711, p2p: 2, transfer: 'complete' },
    });
  });

  it('an outbound v2 file split at any byte boundary: same bytes out, same sha256', () => {
    const file = crypto.randomBytes(3000);
    const stream = Buffer.concat([
      ...p2pV2Msgs(inviteText(A_EP, BOB_EP, 'plan.docx', file.length), { dest: Bob, client: { trid: 3 }, chunk: 400 }),
      ...dataMsgsV2(file, { sessionId: 4711, dest: Bob, client: { trid: 10 }, chunk: 700 }),
      Buffer.from('OUT\r\n'),
    ]);
    for (const size of [1, 2, 3, 5, 7, 1500]) {
      const h = new Harness(ALLOW);
      h.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`).server(`JOI ${Bob} Bob\r\n`);
      const before = h.serverGot;
      for (let i = 0; i < stream.length; i += size) h.client(stream.subarray(i, i + size));
      expect(h.serverGot).toBe(before + stream.toString('latin1'));
      expect(transfers(h)).toEqual([expect.objectContaining({ side: 'c2s', peer: Bob, file: { name: 'plan.docx', size: 3000, sha256: sha(file) } })]);
    }
  });

  it('property: any file size, packet size and TCP split: bytes pass unchanged, one complete event with the sha256', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 1, max: 1500 }), fc.integer({ min: 1, max: 3000 }), (len, chunk, split) => {
        const file = crypto.randomBytes(len);
        const h = switchboard(new Harness(ALLOW));
        const t = inbound(file, 'p.bin', { chunk });
        for (const m of t.invite) h.server(m);
        for (const m of t.ok) h.client(m);
        const before = h.clientGot;
        const data = Buffer.concat(t.data);
        for (let i = 0; i < data.length; i += split) h.server(data.subarray(i, i + split));
        return h.clientGot === before + data.toString('latin1') && JSON.stringify(summary(h)) === JSON.stringify([[len, sha(file), 'complete', undefined]]);
      }),
      { numRuns: 40 },
    );
  });

  it('a missing packet ends it as partial (gap); later packets are not hashed; bytes still pass', () => {
    const file = crypto.randomBytes(4000);
    const h = switchboard(new Harness(ALLOW));
    const t = inbound(file, 'a.zip', { chunk: 1000 });
    const sent = [t.data[0], t.data[2], t.data[3]] as Buffer[];
    run(h, t, sent);
    expect(h.clientGot.endsWith(Buffer.concat(sent).toString('latin1'))).toBe(true);
    expect(summary(h)).toEqual([[1000, sha(file.subarray(0, 1000)), 'partial', 'gap']]);
    expect(transfers(h)[0]?.detail?.['at']).toBe(1000);
  });

  it('packets out of order end it as partial (gap); a repeated packet as partial (overlap)', () => {
    const file = crypto.randomBytes(3000);
    const h1 = switchboard(new Harness(ALLOW));
    const t1 = inbound(file, 'b.bin', { chunk: 1000 });
    run(h1, t1, [t1.data[0], t1.data[2], t1.data[1]] as Buffer[]);
    expect(summary(h1)).toEqual([[1000, sha(file.subarray(0, 1000)), 'partial', 'gap']]);
    const h2 = switchboard(new Harness(ALLOW));
    const t2 = inbound(file, 'b.bin', { chunk: 1000 });
    run(h2, t2, [t2.data[0], t2.data[1], t2.data[1], t2.data[2]] as Buffer[]);
    expect(summary(h2)).toEqual([[2000, sha(file.subarray(0, 2000)), 'partial', 'overlap']]);
  });

  it('a first packet without TF_FIRST missed its head: partial gap at 0, nothing hashed', () => {
    const file = crypto.randomBytes(2000);
    const h = switchboard(new Harness(ALLOW));
    run(h, inbound(file, 'c.bin', { noFirst: true }));
    expect(summary(h)).toEqual([[0, sha(Buffer.alloc(0)), 'partial', 'gap']]);
  });

  it("a size that differs from the INVITE's (first packet's payload + remaining) ends it partial: size_changed", () => {
    const file = crypto.randomBytes(3000);
    const h = switchboard(new Harness(ALLOW));
    run(h, inbound(file, 'd.bin', { announced: 5000 }));
    expect(transfers(h).map((d) => [d.detail?.['transfer'], d.detail?.['reassembly'], d.detail?.['announced'], d.detail?.['seen']])).toEqual([['partial', 'size_changed', 5000, 3000]]);
  });

  it('a v2 BYE mid-transfer ends it as partial (bye)', () => {
    const file = crypto.randomBytes(3000);
    const h = switchboard(new Harness(ALLOW));
    const t = inbound(file, 'e.bin', { chunk: 1000 });
    run(h, t, [t.data[0]] as Buffer[]);
    for (const m of p2pV2Msgs(byeText(A_EP, BOB_EP), { dest: Bob, client: { trid: 5 }, packageNumber: 9 })) h.client(m);
    h.server(t.data[1] as Buffer).server(t.data[2] as Buffer);
    expect(summary(h)).toEqual([[1000, sha(file.subarray(0, 1000)), 'partial', 'bye']]);
  });

  it('buildByeV2 (for a refused v2 file) is one whole v2 SLP packet that ends the call', () => {
    const bye = buildByeV2(A, Bob, '{00000000-0000-0000-0000-0000000000AA}', '{B}');
    const h = parseP2pV2(bye);
    expect(h).toMatchObject({ sessionId: 0, tf: TF_FIRST, remaining: 0 });
    expect(bye.toString('utf8', h?.payloadStart, (h?.payloadStart ?? 0) + (h?.payloadLength ?? 0))).toMatch(/^BYE MSNMSGR:alice@hotmail\.com MSNSLP\/1\.0\r\n[\s\S]*Call-ID: \{00000000-0000-0000-0000-0000000000AA\}\r\n/);
    const sink = new MemSink();
    const files = new P2pFiles(() => sink);
    files.offer({ side: 's2c', sessionId: 77, callId: '{00000000-0000-0000-0000-0000000000AA}', file: { name: 'x', size: 3000 }, base: { protocol: 'msnp' } });
    const body = (m: Buffer): Buffer => m.subarray(m.indexOf('\r\n\r\n', m.indexOf('\r\n') + 2) + 4);
    const data = dataMsgsV2(crypto.randomBytes(3000), { sessionId: 77, dest: A, chunk: 1000 });
    files.observe('s2c', body(data[0] as Buffer));
    files.observe('c2s', bye);
    expect(sink.ended).toBe(false);
    expect(files.size).toBe(0);
  });

  it('a blocked v2 INVITE (split over MSGs): its MSGs are dropped, its data is not reassembled', () => {
    const file = crypto.randomBytes(2000);
    const h = switchboard(new Harness({ default: 'allow', rules: [{ id: 'nofiles', when: { kind: ['file'] }, then: 'block' }] }));
    const before = h.clientGot;
    const t = inbound(file, 'e.exe');
    for (const m of t.invite) h.server(m);
    expect(h.clientGot).toBe(before);
    for (const m of t.data) h.server(m);
    expect(h.ofKind('file').map((e) => [e.draft.file?.name, e.verdict.action])).toEqual([['e.exe', 'block']]);
    expect(transfers(h)).toEqual([]);
  });

  it('v1 and v2 transfers interleaved on one switchboard: each its own sha256', () => {
    const f1 = crypto.randomBytes(2500);
    const f2 = crypto.randomBytes(2500);
    const h = switchboard(new Harness(ALLOW));
    const c1 = '{00000000-0000-0000-0000-000000000011}';
    const v1Invite = p2pMsgs(inviteText(Bob, A, 'one.bin', f1.length, undefined, { sessionId: 11, callId: c1 }), { id: 100, dest: A, server: { from: Bob } });
    const v1Data = dataMsgs(f1, { sessionId: 11, id: 101, dest: A, server: { from: Bob }, chunk: 1000 });
    const t = inbound(f2, 'two.bin', { sessionId: 12, callId: '{00000000-0000-0000-0000-000000000012}', chunk: 1000 });
    for (const m of [...v1Invite, ...t.invite]) h.server(m);
    for (const m of [...p2pMsgs(okText(A, Bob, 11, c1), { id: 500, dest: Bob, client: { trid: 2 } }), ...t.ok]) h.client(m);
    for (let i = 0; i < 3; i++) h.server(v1Data[i] as Buffer).server(t.data[i] as Buffer);
    h.client(t.ack);
    expect(transfers(h).map((d) => [d.file?.name, d.file?.sha256, d.detail?.['transfer'], d.detail?.['p2p']])).toEqual([
      ['one.bin', sha(f1), 'complete', 1],
      ['two.bin', sha(f2), 'complete', 2],
    ]);
  });
});

class MemSink implements FileDataSink {
  bytes: Buffer[] = [];
  ended: boolean | undefined;
  write(c: Buffer): void {
    this.bytes.push(c);
  }
  end(ok: boolean): void {
    this.ended ??= ok;
  }
}

describe('P2pFiles v2: garbage', () => {
  const offer = (sessionId: number): MsnFileOffer => ({ side: 's2c', sessionId, callId: `{${sessionId}}`, file: { name: `${sessionId}.bin` }, base: { protocol: 'msnp' } });

  it('fuzz: random bytes and random v2 packets never throw, state stays within the caps', () => {
    const files = new P2pFiles(() => new MemSink(), { maxTransfers: 2, maxOffers: 3, maxFileBytes: 1 << 20 });
    for (const id of [1, 2, 3]) files.offer(offer(id));
    const packet = fc.record({
      tf: fc.constantFrom(0, 1, 4, 6, 7, 0xff),
      sessionId: fc.constantFrom(0, 1, 2, 3, 9),
      remaining: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
      payload: fc.uint8Array({ maxLength: 1300 }),
      packageNumber: fc.integer({ min: 0, max: 0xffff }),
      cut: fc.integer({ min: 0, max: 40 }),
      flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('c2s' as const, 's2c' as const), packet, fc.uint8Array({ maxLength: 200 }), fc.boolean())), (items) => {
        for (const [side, p, raw, useRaw] of items) {
          let b = buildP2pV2({ baseId: 1, tf: p.tf, packageNumber: p.packageNumber, sessionId: p.sessionId, ...(p.remaining !== undefined ? { remaining: p.remaining } : {}), payload: Buffer.from(p.payload) });
          if (p.flip !== undefined) b[p.flip[0] % b.length] = p.flip[1];
          b = b.subarray(0, b.length - (p.cut % (b.length + 1)));
          files.observe(side, useRaw ? Buffer.from(raw) : b);
          parseP2pV2(Buffer.from(raw));
          if (files.size > 3 + 2) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

/** A scanned sink whose verdict the test gives (as verdict-hold.test.ts). */
class TestSink implements VerdictSink {
  readonly chunks: Buffer[] = [];
  readonly verdict: Promise<FileVerdict>;
  decide: (v: FileVerdict) => void = () => undefined;
  readonly scanning = true;
  constructor() {
    this.verdict = new Promise((r) => (this.decide = r));
  }
  write(chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  end(): void {}
  verdictWait(): { ms: number; failOpen: boolean } {
    return { ms: 30_000, failOpen: false };
  }
}

describe('msnp v2: the completing chunk waits for the verdict', () => {
  function rig() {
    const toClient: Buffer[] = [];
    const toServer: Buffer[] = [];
    const sinks: TestSink[] = [];
    const log = (): void => undefined;
    const ctx: SessionContext = {
      conn: 't1',
      destination: { host: '127.0.0.1', port: 1863 },
      options: { starttls: 'pass', maxUnitBytes: 65536 },
      decide: () => ({ action: 'allow', rule: 'default' }),
      redact: (text) => text,
      log: { debug: log, info: log, warn: log, error: log },
      openFile: () => sinks[sinks.push(new TestSink()) - 1] as TestSink,
    };
    const session = msnpModule.create(ctx, {
      forward: (from: Side, d: Buffer) => (from === 'c2s' ? toServer : toClient).push(Buffer.from(d)),
      inject: (to: Side, d: Buffer) => (to === 'c2s' ? toClient : toServer).push(Buffer.from(d)),
      close: () => undefined,
    });
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    return { session, toClient, toServer, sinks, tick };
  }

  async function transfer(verdict: FileVerdict) {
    const r = rig();
    const file = crypto.randomBytes(5000);
    const t = inbound(file, 'f.exe', { chunk: 1202 });
    r.session.push('c2s', Buffer.from(`ANS 1 ${A} 849102291.520491113 11752013\r\n`));
    r.session.push('s2c', Buffer.from(`IRO 1 1 1 ${Bob} Bob\r\nANS 1 OK\r\n`));
    for (const m of t.invite) r.session.push('s2c', m);
    for (const m of t.ok) r.session.push('c2s', m);
    const before = Buffer.concat(r.toClient).length;
    for (const m of t.data) r.session.push('s2c', m);
    const got = (): Buffer => Buffer.concat(r.toClient).subarray(before);
    // Everything but the completing packet is through; the sink has the whole file.
    expect(got().equals(Buffer.concat(t.data.slice(0, -1)))).toBe(true);
    expect(Buffer.concat(r.sinks[0]?.chunks ?? []).equals(file)).toBe(true);
    r.sinks[0]?.decide(verdict);
    await r.tick();
    return { got: got(), file, t, r };
  }

  it('clean: the last packet is released, the file arrives byte-identical', async () => {
    const { got, t } = await transfer({ pass: true });
    expect(got.equals(Buffer.concat(t.data))).toBe(true);
  });

  it('infected: the completing packet never arrives, a BYE for the call does; the sender gets a BYE', async () => {
    const { got, file, t, r } = await transfer({ pass: false, why: 'infected: Unit.Bad', rule: 'av:clamd' });
    expect(fileBytesInV2(got, 4711)).toBe(file.length - (file.length % 1202));
    const firstPart = Buffer.concat(t.data.slice(0, -1));
    expect(got.subarray(0, firstPart.length).equals(firstPart)).toBe(true);
    expect(got.subarray(firstPart.length).toString('latin1')).toContain(`BYE MSNMSGR:${A} MSNSLP/1.0`);
    expect(Buffer.concat(r.toServer).toString('latin1')).toContain(`BYE MSNMSGR:${Bob} MSNSLP/1.0`);
  });
});
