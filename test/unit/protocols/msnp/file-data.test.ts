// MSNSLP file data over the switchboard, reassembled and hashed.
// SYNTHETIC: no MSN server and no capture of a file transfer exist here
// (../shared/captures/README.md), so the P2P streams are built from the
// spec (slp-fixture.ts: libpurple msn/p2p.h, slplink.c, slpcall.c) and the
// assertions are what the gateway records: the completed 'file' event with
// the exact name, size and sha256 of the bytes that crossed, every byte
// forwarded unchanged; partial transfers named as such.
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { EventDraft, FileDataSink } from '../../../../src/protocols/types';
import { P2pFiles, type MsnFileOffer } from '../../../../src/protocols/msnp/p2p-files';
import { Harness } from './harness';
import { ackMsg, byeText, dataMsgs, inviteText, okText, p2pMsgs } from './slp-fixture';

const A = 'alice@hotmail.com';
const Bob = 'bob@hotmail.com';
const ALLOW = { default: 'allow', rules: [] };
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** Alice's switchboard (she answered Bob's invitation), Bob in the conversation. */
function switchboard(h: Harness): Harness {
  return h.client(`ANS 1 ${A} 849102291.520491113 11752013\r\n`).server(`IRO 1 1 1 ${Bob} Bob\r\n`).server('ANS 1 OK\r\n');
}

/** The completed-transfer events (the ones with a sha256). */
const transfers = (h: Harness): EventDraft[] => h.ofKind('file').map((e) => e.draft).filter((d) => d.file?.sha256 !== undefined);

/** Bob sends `file` to Alice: INVITE, Alice's 200 OK, data chunks, Alice's acks; everything as one stream per side. */
function inbound(file: Buffer, name: string, opts: { chunk?: number; sessionId?: number; callId?: string } = {}): { s2c: Buffer[]; c2s: Buffer[] } {
  const sessionId = opts.sessionId ?? 4711;
  const call = opts.callId === undefined ? { sessionId } : { sessionId, callId: opts.callId };
  const invite = p2pMsgs(inviteText(Bob, A, name, file.length, undefined, call), { id: 100, dest: A, server: { from: Bob } });
  const ok = p2pMsgs(okText(A, Bob, sessionId, opts.callId), { id: 500, dest: Bob, client: { trid: 2 } });
  const data = dataMsgs(file, { sessionId, id: 101, dest: A, server: { from: Bob }, ...(opts.chunk !== undefined ? { chunk: opts.chunk } : {}) });
  return { s2c: [...invite, ...data], c2s: [...ok, ackMsg(sessionId, file.length, 101, Bob, { client: { trid: 3 } })] };
}

describe('msnp file data over the switchboard (synthetic P2P stream)', () => {
  it('an inbound file: every byte forwarded unchanged, one completed file event with name, size and sha256', () => {
    const file = crypto.randomBytes(5000);
    const h = switchboard(new Harness(ALLOW));
    const { s2c, c2s } = inbound(file, 'report.pdf');
    const sBefore = h.clientGot;
    const cBefore = h.serverGot;
    h.server(s2c[0] as Buffer).client(c2s[0] as Buffer);
    for (const m of s2c.slice(1)) h.server(m);
    h.client(c2s[1] as Buffer);
    expect(h.clientGot).toBe(sBefore + Buffer.concat(s2c).toString('latin1'));
    expect(h.serverGot).toBe(cBefore + Buffer.concat(c2s).toString('latin1'));
    expect(h.closed).toBeUndefined();
    // The offer (decided on the INVITE), then the transfer itself.
    expect(h.ofKind('file').map((e) => [e.draft.side, e.draft.peer, e.draft.file?.name, e.draft.file?.sha256 === undefined])).toEqual([
      ['s2c', Bob, 'report.pdf', true],
      ['s2c', Bob, 'report.pdf', false],
    ]);
    const [t] = transfers(h);
    expect(t).toMatchObject({
      kind: 'file',
      side: 's2c',
      protocol: 'msnp',
      account: A,
      peer: Bob,
      file: { name: 'report.pdf', size: 5000, sha256: sha(file) },
      detail: { transport: 'msnslp', via: 'switchboard', sessionId: 4711, transfer: 'complete', offeredSize: 5000 },
    });
  });

  it('an outbound file split at every chunk size 1..7: same bytes out, same sha256', () => {
    const file = crypto.randomBytes(3000);
    const stream = Buffer.concat([
      ...p2pMsgs(inviteText(A, Bob, 'plan.docx', file.length), { id: 7, dest: Bob, client: { trid: 3 } }),
      ...dataMsgs(file, { id: 8, dest: Bob, client: { trid: 10 } }),
      Buffer.from('OUT\r\n'),
    ]);
    for (const size of [1, 2, 3, 5, 7, 1500]) {
      const h = new Harness(ALLOW);
      h.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`).server(`JOI ${Bob} Bob\r\n`);
      const before = h.serverGot;
      for (let i = 0; i < stream.length; i += size) h.client(stream.subarray(i, i + size));
      expect(h.serverGot).toBe(before + stream.toString('latin1'));
      expect(transfers(h)).toEqual([expect.objectContaining({ side: 'c2s', account: A, peer: Bob, file: { name: 'plan.docx', size: 3000, sha256: sha(file) } })]);
      expect(transfers(h)[0]?.detail?.['transfer']).toBe('complete');
    }
  });

  it('a missing chunk ends the file as partial (gap), later chunks are not hashed, bytes still pass', () => {
    const file = crypto.randomBytes(4000);
    const h = switchboard(new Harness(ALLOW));
    const { s2c } = inbound(file, 'a.zip', { chunk: 1000 });
    const invite = s2c.slice(0, -4);
    const data = s2c.slice(-4);
    for (const m of [...invite, data[0], data[2], data[3]]) h.server(m as Buffer);
    expect(h.clientGot.endsWith(Buffer.concat([data[0], data[2], data[3]] as Buffer[]).toString('latin1'))).toBe(true);
    const t = transfers(h);
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ file: { name: 'a.zip', size: 1000, sha256: sha(file.subarray(0, 1000)) }, detail: { transfer: 'partial', reassembly: 'gap', at: 1000 } });
  });

  it('a chunk sent twice is an overlap: partial', () => {
    const file = crypto.randomBytes(3000);
    const h = switchboard(new Harness(ALLOW));
    const { s2c } = inbound(file, 'b.bin', { chunk: 1000 });
    const data = s2c.slice(-3);
    for (const m of [...s2c.slice(0, -3), data[0], data[1], data[1], data[2]]) h.server(m as Buffer);
    expect(transfers(h).map((d) => [d.file?.size, d.detail?.['transfer'], d.detail?.['reassembly']])).toEqual([[2000, 'partial', 'overlap']]);
  });

  it('a BYE mid-transfer ends it as partial; data of that session afterwards is not a new transfer', () => {
    const file = crypto.randomBytes(3000);
    const h = switchboard(new Harness(ALLOW));
    const { s2c } = inbound(file, 'c.bin', { chunk: 1000 });
    const data = s2c.slice(-3);
    for (const m of [...s2c.slice(0, -3), data[0]]) h.server(m as Buffer);
    for (const m of p2pMsgs(byeText(A, Bob), { id: 900, dest: Bob, client: { trid: 5 } })) h.client(m);
    h.server(data[1] as Buffer).server(data[2] as Buffer);
    expect(transfers(h).map((d) => [d.file?.size, d.file?.sha256, d.detail?.['transfer'], d.detail?.['reassembly']])).toEqual([
      [1000, sha(file.subarray(0, 1000)), 'partial', 'bye'],
    ]);
  });

  it("the sender's FIN mid-transfer ends it as partial (closed)", () => {
    const file = crypto.randomBytes(3000);
    const h = switchboard(new Harness(ALLOW));
    const { s2c } = inbound(file, 'd.bin', { chunk: 1000 });
    for (const m of s2c.slice(0, -1)) h.server(m);
    h.session.end('s2c');
    expect(transfers(h).map((d) => [d.file?.size, d.detail?.['transfer'], d.detail?.['reassembly']])).toEqual([[2000, 'partial', 'closed']]);
  });

  it('a blocked INVITE: its data (if a client sent it anyway) is not reassembled; no transfer event', () => {
    const file = crypto.randomBytes(2000);
    const h = switchboard(new Harness({ default: 'allow', rules: [{ id: 'nofiles', when: { kind: ['file'] }, then: 'block' }] }));
    const { s2c } = inbound(file, 'e.exe');
    for (const m of s2c) h.server(m);
    expect(h.ofKind('file').map((e) => [e.draft.file?.name, e.verdict.action])).toEqual([['e.exe', 'block']]);
    expect(transfers(h)).toEqual([]);
  });

  it('data of an unknown session, data from the wrong side and acks are not transfers', () => {
    const file = crypto.randomBytes(1500);
    const h = switchboard(new Harness(ALLOW));
    for (const m of dataMsgs(file, { sessionId: 99, id: 1, dest: A, server: { from: Bob } })) h.server(m);
    const { s2c, c2s } = inbound(file, 'f.bin');
    for (const m of s2c.slice(0, -2)) h.server(m);
    // Alice echoes a data-looking chunk of Bob's session: not the sender, ignored.
    for (const m of dataMsgs(file, { id: 2, dest: Bob, client: { trid: 40 } })) h.client(m);
    h.client(c2s[1] as Buffer);
    for (const m of s2c.slice(-2)) h.server(m);
    expect(transfers(h).map((d) => [d.side, d.file?.sha256])).toEqual([['s2c', sha(file)]]);
  });

  it('two files at once on one switchboard, interleaved: each its own sha256', () => {
    const f1 = crypto.randomBytes(2500);
    const f2 = crypto.randomBytes(1800);
    const h = switchboard(new Harness(ALLOW));
    const a = inbound(f1, 'one.bin', { sessionId: 11, callId: '{00000000-0000-0000-0000-000000000011}' });
    const b = inbound(f2, 'two.bin', { sessionId: 12, callId: '{00000000-0000-0000-0000-000000000012}' });
    const da = a.s2c.slice(-3);
    const db = b.s2c.slice(-2);
    for (const m of [...a.s2c.slice(0, -3), ...b.s2c.slice(0, -2), da[0], db[0], da[1], db[1], da[2]]) h.server(m as Buffer);
    expect(transfers(h).map((d) => [d.file?.name, d.file?.sha256, d.detail?.['transfer']])).toEqual([
      ['two.bin', sha(f2), 'complete'],
      ['one.bin', sha(f1), 'complete'],
    ]);
  });
});

describe('P2pFiles limits', () => {
  class MemSink implements FileDataSink {
    bytes: Buffer[] = [];
    ended: { ok: boolean; detail?: Record<string, string | number | boolean> } | undefined;
    write(c: Buffer): void {
      this.bytes.push(c);
    }
    end(ok: boolean, detail?: Record<string, string | number | boolean>): void {
      this.ended ??= detail === undefined ? { ok } : { ok, detail };
    }
  }
  const offer = (sessionId: number): MsnFileOffer => ({ side: 's2c', sessionId, callId: `{${sessionId}}`, file: { name: `${sessionId}.bin` }, base: { protocol: 'msnp' } });
  const body = (m: Buffer): Buffer => m.subarray(m.indexOf('\r\n\r\n', m.indexOf('\r\n') + 2) + 4);

  it('a declared TotalSize over the cap is recorded as partial over_cap before any byte is hashed', () => {
    const sinks: MemSink[] = [];
    const files = new P2pFiles(() => sinks[sinks.push(new MemSink()) - 1] as MemSink, { maxTransfers: 4, maxOffers: 4, maxFileBytes: 1000 });
    files.offer(offer(5));
    const [m] = dataMsgs(crypto.randomBytes(100), { sessionId: 5, id: 1, dest: A, server: { from: Bob }, total: 5000 });
    files.observe('s2c', body(m as Buffer));
    expect(sinks).toHaveLength(1);
    expect(sinks[0]?.bytes).toEqual([]);
    expect(sinks[0]?.ended).toEqual({ ok: false, detail: { over_cap: 1000 } });
    expect(files.size).toBe(0);
  });

  it('at most maxTransfers at once, offers evicted oldest first, nothing left after endSide(null)', () => {
    const sinks: MemSink[] = [];
    const files = new P2pFiles(() => sinks[sinks.push(new MemSink()) - 1] as MemSink, { maxTransfers: 2, maxOffers: 3, maxFileBytes: 1e9 });
    for (const id of [1, 2, 3, 4]) files.offer(offer(id));
    // Offer 1 was evicted: its data is not a transfer.
    for (const id of [1, 2, 3, 4]) {
      const [m] = dataMsgs(crypto.randomBytes(10), { sessionId: id, id, dest: A, server: { from: Bob }, total: 20 });
      files.observe('s2c', body(m as Buffer));
    }
    expect(sinks).toHaveLength(2);
    expect(files.untracked).toBe(1);
    files.endSide(null);
    expect(sinks.map((s) => s.ended?.detail?.['reassembly'])).toEqual(['closed', 'closed']);
    expect(files.size).toBe(0);
  });

  it('fuzz: arbitrary P2P bodies never throw and never hold more than the caps', () => {
    const files = new P2pFiles(() => new MemSink(), { maxTransfers: 2, maxOffers: 3, maxFileBytes: 1 << 20 });
    for (const id of [1, 2, 3]) files.offer(offer(id));
    const header = fc.record({
      sessionId: fc.constantFrom(0, 1, 2, 3, 7),
      offset: fc.integer({ min: 0, max: 3000 }),
      totalSize: fc.integer({ min: 0, max: 4000 }),
      length: fc.integer({ min: 0, max: 1300 }),
      flags: fc.constantFrom(0, 2, 8, 0x20, 0x01000030),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('c2s' as const, 's2c' as const), header, fc.uint8Array({ maxLength: 1400 }), fc.boolean())), (items) => {
        for (const [side, hd, data, raw] of items) {
          const b = Buffer.alloc(48);
          b.writeUInt32LE(hd.sessionId, 0);
          b.writeBigUInt64LE(BigInt(hd.offset), 8);
          b.writeBigUInt64LE(BigInt(hd.totalSize), 16);
          b.writeUInt32LE(hd.length, 24);
          b.writeUInt32LE(hd.flags, 28);
          files.observe(side, raw ? Buffer.from(data) : Buffer.concat([b, Buffer.from(data)]));
          if (files.size > 3 + 2) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
