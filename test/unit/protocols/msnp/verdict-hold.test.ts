// MSN file data whose last chunk waits for the AV verdict (src/protocols/
// msnp/verdict-hold.ts). SYNTHETIC P2P streams (slp-fixture.ts, built from
// libpurple's msn code: no capture of an MSNSLP transfer exists); the file
// sink is a scanned sink whose verdict the test gives, as the gateway's
// FileTransfer would. What a user would check: a clean file reaches its
// receiver byte-identical and in order; an infected one never arrives whole
// (its last chunk is dropped), the receiver and the sender each get an SLP
// BYE for the call, a local sender's MSG transaction is answered.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { MsnGatewayInspector, msnpModule } from '../../../../src/protocols/msnp';
import { VerdictHold, type EndUnit } from '../../../../src/protocols/msnp/verdict-hold';
import type { FileVerdict, VerdictSink } from '../../../../src/protocols/files/sink';
import type { EventDraft, SessionContext, Side } from '../../../../src/protocols/types';
import { serverMsg } from './harness';
import { ackMsg, dataMsgs, fileBytesIn, inviteText, okText, p2pMsgs } from './slp-fixture';

const A = 'alice@hotmail.com';
const Bob = 'bob@hotmail.com';
const CALL = '{6A8E1C4B-0000-4000-8000-000000004711}';

/** A scanned file sink whose verdict the test decides. */
class TestSink implements VerdictSink {
  readonly chunks: Buffer[] = [];
  ended: boolean | null = null;
  readonly verdict: Promise<FileVerdict>;
  decide: (v: FileVerdict) => void = () => undefined;
  constructor(
    readonly draft: EventDraft,
    private readonly wait: { ms: number; failOpen: boolean },
    readonly scanning = true,
  ) {
    this.verdict = new Promise((r) => (this.decide = r));
  }
  write(chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  end(ended: boolean): void {
    this.ended ??= ended;
  }
  verdictWait(): { ms: number; failOpen: boolean } {
    return this.wait;
  }
}

const CLEAN: FileVerdict = { pass: true };
const INFECTED: FileVerdict = { pass: false, why: 'infected: Unit.Bad', rule: 'av:clamd' };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The relay's view of one MSNP session with the gateway's openFile (every transfer gets a TestSink). */
class Rig {
  toServer: Buffer[] = [];
  toClient: Buffer[] = [];
  /** Gateway-made bytes only (answers, BYEs sent back to a sender). */
  injected: Array<{ to: Side; data: Buffer }> = [];
  closed: string | null = null;
  logs: Array<{ obj: Record<string, unknown>; msg?: string }> = [];
  sinks: TestSink[] = [];
  readonly session;

  constructor(
    wait = { ms: 30_000, failOpen: false },
    scanning = true,
    /** What the gateway's sink states as inspect.file_hold_back_bytes (absent: the sink states none). */
    holdBackBytes?: number,
  ) {
    const log = (obj: object, msg?: string): void => void this.logs.push(msg === undefined ? { obj: obj as Record<string, unknown> } : { obj: obj as Record<string, unknown>, msg });
    const ctx: SessionContext = {
      conn: 't1',
      destination: { host: '127.0.0.1', port: 1863 },
      options: { starttls: 'pass', maxUnitBytes: 65536 },
      decide: () => ({ action: 'allow', rule: 'default' }),
      redact: (text) => text,
      log: { debug: log, info: log, warn: log, error: log },
      openFile: (draft) => {
        const s = new TestSink(draft, wait, scanning);
        if (holdBackBytes !== undefined) Object.assign(s, { holdBackBytes });
        this.sinks.push(s);
        return s;
      },
    };
    this.session = msnpModule.create(ctx, {
      forward: (from: Side, data: Buffer) => (from === 'c2s' ? this.toServer : this.toClient).push(Buffer.from(data)),
      inject: (to: Side, data: Buffer) => {
        this.injected.push({ to, data: Buffer.from(data) });
        (to === 'c2s' ? this.toClient : this.toServer).push(Buffer.from(data));
      },
      close: (reason: string) => {
        this.closed ??= reason;
      },
    });
  }
  client(b: string | Buffer): this {
    this.session.push('c2s', typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
    return this;
  }
  server(b: string | Buffer): this {
    this.session.push('s2c', typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
    return this;
  }
  get clientGot(): Buffer {
    return Buffer.concat(this.toClient);
  }
  get serverGot(): Buffer {
    return Buffer.concat(this.toServer);
  }
}

const SB_IN = Buffer.from(`ANS 1 ${A} 849102291.520491113 11752013\r\n`);
const SB_IN_S = Buffer.from(`IRO 1 1 1 ${Bob} Bob\r\nANS 1 OK\r\n`);

/** Bob sends `file` to Alice (inbound): the INVITE, the data MSGs; Alice's 200 OK and final ack. */
function inbound(file: Buffer, chunk = 1202, sessionId = 4711, callId = CALL) {
  const call = { sessionId, callId };
  const invite = Buffer.concat(p2pMsgs(inviteText(Bob, A, 'f.exe', file.length, undefined, call), { id: 100 + sessionId, dest: A, server: { from: Bob } }));
  const data = dataMsgs(file, { sessionId, id: 101 + sessionId, dest: A, server: { from: Bob }, chunk });
  const ok = Buffer.concat(p2pMsgs(okText(A, Bob, sessionId, callId), { id: 500, dest: Bob, client: { trid: 2 } }));
  const ack = ackMsg(sessionId, file.length, 101 + sessionId, Bob, { client: { trid: 3 } });
  return { invite, data, ok, ack };
}

/** An inbound transfer up to (not including) its data. */
function inboundRig(file: Buffer, rig = new Rig(), chunk = 1202) {
  const t = inbound(file, chunk);
  rig.client(SB_IN).server(SB_IN_S).server(t.invite).client(t.ok);
  return { rig, ...t };
}

const byeIn = (b: Buffer, to: string, from: string): boolean => {
  const s = b.toString('latin1');
  return s.includes(`BYE MSNMSGR:${to} MSNSLP/1.0\r\nTo: <msnmsgr:${to}>\r\nFrom: <msnmsgr:${from}>`) && s.includes(`Call-ID: ${CALL}\r\n`) && s.includes('application/x-msnmsgr-sessionclosebody');
};

describe('msnp: a scanned file waits for its verdict (synthetic P2P streams)', () => {
  it('clean inbound file: the last data MSG waits, then everything arrives byte-identical and in order', async () => {
    const file = crypto.randomBytes(5000);
    const { rig, data, ack } = inboundRig(file);
    const before = rig.clientGot.length;
    for (const m of data) rig.server(m);
    const last = data[data.length - 1] as Buffer;
    // Everything but the completing chunk is through; the file is whole at the sink.
    expect(rig.clientGot.subarray(before).equals(Buffer.concat(data.slice(0, -1)))).toBe(true);
    expect(rig.sinks).toHaveLength(1);
    expect(Buffer.concat((rig.sinks[0] as TestSink).chunks).equals(file)).toBe(true);
    expect((rig.sinks[0] as TestSink).ended).toBe(true);
    // Bob says something while the verdict is out: it waits behind the file.
    const hi = serverMsg(Bob, 'Bob', 'did it arrive?');
    rig.server(hi);
    expect(rig.clientGot.length - before).toBe(Buffer.concat(data).length - last.length);
    (rig.sinks[0] as TestSink).decide(CLEAN);
    await tick();
    expect(rig.clientGot.subarray(before).equals(Buffer.concat([...data, hi]))).toBe(true);
    // The receiver acks; the file event is the sink's; nothing was injected.
    rig.client(ack);
    expect(rig.injected).toEqual([]);
    expect(rig.closed).toBeNull();
    expect(rig.session).toHaveProperty('bufferedBytes', 0);
  });

  it('infected inbound file: the receiver never gets the last chunk but a BYE; the sender gets a BYE; later units still pass in order', async () => {
    const file = crypto.randomBytes(5000);
    const { rig, data } = inboundRig(file);
    const serverBefore = rig.serverGot.length;
    const before = rig.clientGot.length;
    for (const m of data) rig.server(m);
    const hi = serverMsg(Bob, 'Bob', 'here it comes');
    rig.server(hi);
    (rig.sinks[0] as TestSink).decide(INFECTED);
    await tick();
    const got = rig.clientGot.subarray(before);
    const firstPart = Buffer.concat(data.slice(0, -1));
    expect(got.subarray(0, firstPart.length).equals(firstPart)).toBe(true);
    expect(fileBytesIn(got)).toBe(1202 * 4);
    expect(fileBytesIn(got)).toBeLessThan(file.length);
    const rest = got.subarray(firstPart.length);
    // Where the chunk would have been: a BYE from Bob, as a switchboard MSG; then what followed.
    expect(rest.toString('latin1').startsWith(`MSG ${Bob} ${Bob} `)).toBe(true);
    expect(byeIn(rest, A, Bob)).toBe(true);
    expect(rest.subarray(rest.length - hi.length).equals(hi)).toBe(true);
    // Bob (through the server) gets Alice's BYE, as a client MSG with ack type U.
    const toBob = rig.serverGot.subarray(serverBefore);
    expect(toBob.toString('latin1')).toMatch(/^MSG 2 U \d+\r\n/);
    expect(byeIn(toBob, Bob, A)).toBe(true);
    expect(rig.logs.some((l) => l.msg === 'msnp: file refused before its last chunk' && l.obj.rule === 'av:clamd')).toBe(true);
    expect(rig.closed).toBeNull();
  });

  it('infected outbound file: the server never gets the last chunk; Alice gets ACK for its D transaction and a BYE; Bob a BYE', async () => {
    const file = crypto.randomBytes(3000);
    const rig = new Rig();
    rig.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`).server(`JOI ${Bob} Bob\r\n`);
    const invite = Buffer.concat(p2pMsgs(inviteText(A, Bob, 'plan.docx', file.length, undefined, { sessionId: 4711, callId: CALL }), { id: 7, dest: Bob, client: { trid: 3 } }));
    rig.client(invite);
    rig.server(Buffer.concat(p2pMsgs(okText(Bob, A, 4711, CALL), { id: 9, dest: A, server: { from: Bob } })));
    const data = dataMsgs(file, { id: 8, dest: Bob, client: { trid: 10 }, chunk: 1000 });
    const sBefore = rig.serverGot.length;
    const cBefore = rig.clientGot.length;
    rig.client(Buffer.concat(data));
    expect(rig.serverGot.subarray(sBefore).equals(Buffer.concat(data.slice(0, 2)))).toBe(true);
    (rig.sinks[0] as TestSink).decide(INFECTED);
    await tick();
    const toServer = rig.serverGot.subarray(sBefore);
    expect(fileBytesIn(toServer)).toBe(2000);
    expect(byeIn(toServer.subarray(Buffer.concat(data.slice(0, 2)).length), Bob, A)).toBe(true);
    const toAlice = rig.clientGot.subarray(cBefore).toString('latin1');
    // The dropped MSG was trid 12 (10 + chunk 2), ack type D: ACK, then Bob's BYE as a switchboard MSG.
    expect(toAlice.startsWith(`ACK 12\r\nMSG ${Bob} ${Bob} `)).toBe(true);
    expect(byeIn(Buffer.from(toAlice, 'latin1'), A, Bob)).toBe(true);
  });

  it('timeout: fail-open releases the chunk, fail-closed drops it (av:timeout); no verdict needed', async () => {
    const file = crypto.randomBytes(2500);
    const open = inboundRig(file, new Rig({ ms: 30, failOpen: true }));
    const shut = inboundRig(file, new Rig({ ms: 30, failOpen: false }));
    const b1 = open.rig.clientGot.length;
    const b2 = shut.rig.clientGot.length;
    for (const m of open.data) open.rig.server(m);
    for (const m of shut.data) shut.rig.server(m);
    await tick();
    expect(fileBytesIn(open.rig.clientGot.subarray(b1))).toBe(2404);
    await sleep(80);
    expect(open.rig.clientGot.subarray(b1).equals(Buffer.concat(open.data))).toBe(true);
    expect(fileBytesIn(shut.rig.clientGot.subarray(b2))).toBe(2404);
    expect(byeIn(shut.rig.clientGot.subarray(b2), A, Bob)).toBe(true);
    expect(shut.rig.logs.some((l) => l.obj.rule === 'av:timeout')).toBe(true);
    // A verdict arriving after the timeout changes nothing.
    const after = shut.rig.clientGot.length;
    (shut.rig.sinks[0] as TestSink).decide(CLEAN);
    await tick();
    expect(shut.rig.clientGot.length).toBe(after);
  });

  it('a sink that does not scan: nothing is held', () => {
    const file = crypto.randomBytes(2000);
    const { rig, data } = inboundRig(file, new Rig(undefined, false));
    const before = rig.clientGot.length;
    for (const m of data) rig.server(m);
    expect(rig.clientGot.subarray(before).equals(Buffer.concat(data))).toBe(true);
  });

  it("the sender's FIN while held: the chunk is dropped (BYE to the receiver), what queued behind goes out, before the half-close", () => {
    const file = crypto.randomBytes(2000);
    const { rig, data } = inboundRig(file);
    const before = rig.clientGot.length;
    for (const m of data) rig.server(m);
    rig.server('OUT\r\n');
    rig.session.end('s2c');
    const got = rig.clientGot.subarray(before);
    expect(fileBytesIn(got)).toBe(1202);
    expect(byeIn(got, A, Bob)).toBe(true);
    expect(got.toString('latin1').endsWith('OUT\r\n')).toBe(true);
    expect(rig.logs.some((l) => l.obj.rule === 'msnp:fin-before-verdict')).toBe(true);
  });

  it('close while held: nothing more is sent, a late verdict is ignored, no timer keeps the process', async () => {
    const file = crypto.randomBytes(2000);
    const { rig, data } = inboundRig(file, new Rig({ ms: 60_000, failOpen: true }));
    for (const m of data) rig.server(m);
    // An oversized unit closes the session (maxUnitBytes).
    rig.client(`MSG 9 N 999999\r\n`);
    expect(rig.closed).toMatch(/maxUnitBytes/);
    const n = rig.clientGot.length;
    (rig.sinks[0] as TestSink).decide(CLEAN);
    await tick();
    expect(rig.clientGot.length).toBe(n);
  });

  it('two scanned files back to back: the second waits for its own verdict even when the first is released', async () => {
    const f1 = crypto.randomBytes(1500);
    const f2 = crypto.randomBytes(1300);
    const rig = new Rig();
    const a = inbound(f1, 1202, 11, '{00000000-0000-0000-0000-000000000011}');
    const b = inbound(f2, 1202, 12, '{00000000-0000-0000-0000-000000000012}');
    rig.client(SB_IN).server(SB_IN_S).server(a.invite).server(b.invite).client(a.ok).client(b.ok);
    const before = rig.clientGot.length;
    rig.server(Buffer.concat([...a.data, ...b.data]));
    expect(rig.sinks).toHaveLength(2);
    (rig.sinks[0] as TestSink).decide(CLEAN);
    await tick();
    // File one whole; file two only up to its last chunk.
    const got = rig.clientGot.subarray(before);
    expect(fileBytesIn(got, 11)).toBe(1500);
    expect(fileBytesIn(got, 12)).toBe(1202);
    (rig.sinks[1] as TestSink).decide(INFECTED);
    await tick();
    expect(fileBytesIn(rig.clientGot.subarray(before), 12)).toBe(1202);
    expect(rig.clientGot.subarray(before).toString('latin1')).toContain('Call-ID: {00000000-0000-0000-0000-000000000012}');
  });

  it('a file ends while another INVITE is being collected (INVITE hold): its chunk still waits for the verdict, order kept', async () => {
    const f1 = crypto.randomBytes(1500);
    const rig = new Rig();
    const a = inbound(f1);
    rig.client(SB_IN).server(SB_IN_S).server(a.invite).client(a.ok);
    const invite2 = p2pMsgs(inviteText(Bob, A, 'two.bin', 99, undefined, { sessionId: 12, callId: '{00000000-0000-0000-0000-000000000012}' }), { id: 300, dest: A, server: { from: Bob }, chunk: 600 });
    expect(invite2.length).toBeGreaterThan(1);
    const before = rig.clientGot.length;
    const stream = [a.data[0] as Buffer, invite2[0] as Buffer, a.data[1] as Buffer, ...invite2.slice(1)];
    for (const m of stream) rig.server(m);
    // The INVITE was decided (and its pieces released); file one's last chunk and what followed it wait.
    expect(rig.clientGot.subarray(before).equals(Buffer.concat([a.data[0] as Buffer, invite2[0] as Buffer]))).toBe(true);
    (rig.sinks[0] as TestSink).decide(CLEAN);
    await tick();
    expect(rig.clientGot.subarray(before).equals(Buffer.concat(stream))).toBe(true);
  });

  it('the HTTP gateway inspector (bodies collected synchronously) never holds: the file is scanned, every byte is in its body', () => {
    const file = crypto.randomBytes(3000);
    const sinks: TestSink[] = [];
    const gw = new MsnGatewayInspector({
      conn: 't2',
      destination: { host: '127.0.0.1', port: 80 },
      options: { starttls: 'pass', maxUnitBytes: 65536 },
      decide: () => ({ action: 'allow', rule: 'default' }),
      redact: (text) => text,
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      openFile: (draft) => sinks[sinks.push(new TestSink(draft, { ms: 30_000, failOpen: false })) - 1] as TestSink,
    });
    const t = inbound(file);
    gw.feed('c2s', SB_IN);
    gw.feed('s2c', Buffer.concat([SB_IN_S, t.invite]));
    gw.feed('c2s', t.ok);
    const r = gw.feed('s2c', Buffer.concat(t.data));
    expect(r.body.equals(Buffer.concat(t.data))).toBe(true);
    expect(sinks).toHaveLength(1);
    expect(Buffer.concat((sinks[0] as TestSink).chunks).equals(file)).toBe(true);
  });

  it('limits: too much queued behind a held chunk refuses the file (msnp:hold-limit) and releases the rest in order', () => {
    const file = crypto.randomBytes(1500);
    const { rig, data } = inboundRig(file);
    const before = rig.clientGot.length;
    for (const m of data) rig.server(m);
    const chatter = Array.from({ length: 300 }, (_, i) => serverMsg(Bob, 'Bob', `${i} ${'x'.repeat(1000)}`));
    for (const m of chatter) rig.server(m);
    const got = rig.clientGot.subarray(before);
    expect(fileBytesIn(got)).toBe(1202);
    expect(rig.logs.some((l) => l.obj.rule === 'msnp:hold-limit')).toBe(true);
    expect(got.subarray(got.length - Buffer.concat(chatter).length).equals(Buffer.concat(chatter))).toBe(true);
    expect(rig.session).toHaveProperty('bufferedBytes', 0);
  });

  it('VerdictHold on its own: queue bounded by units; armed units are recognised by identity only', async () => {
    const out: Buffer[] = [];
    const dropped: string[] = [];
    const h = new VerdictHold({ forward: (d) => out.push(d), drop: (_u, _why, rule) => dropped.push(rule) }, { maxQueuedBytes: 1 << 20, maxQueuedUnits: 3 });
    const sink = new TestSink({ kind: 'file', side: 's2c', protocol: 'msnp' }, { ms: 10_000, failOpen: false });
    const unit: EndUnit = { data: Buffer.from('LAST'), end: { offer: { side: 's2c', sessionId: 1, callId: '{x}', file: {}, base: { protocol: 'msnp' } }, sink } };
    h.forward(Buffer.from('LAST')); // same bytes, not the armed buffer: passes
    h.arm(unit);
    h.forward(unit.data);
    expect(h.active).toBe(true);
    for (const s of ['a', 'b', 'c']) h.forward(Buffer.from(s));
    expect(dropped).toEqual([]);
    h.forward(Buffer.from('d'));
    expect(dropped).toEqual(['msnp:hold-limit']);
    expect(Buffer.concat(out).toString()).toBe('LASTabcd');
    expect(h.active).toBe(false);
    sink.decide(CLEAN);
    await tick();
    expect(Buffer.concat(out).toString()).toBe('LASTabcd');
  });

  it('fuzz: any chunking of both streams, either verdict: clean is byte-identical; infected never delivers the whole file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4000 }), fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (size, cuts, clean) => {
        const file = crypto.randomBytes(size);
        const t = inbound(file, 700);
        const rig = new Rig();
        rig.client(SB_IN);
        const s2c = Buffer.concat([SB_IN_S, t.invite]);
        rig.server(s2c.subarray(0, 10)).server(s2c.subarray(10));
        rig.client(t.ok);
        const stream = Buffer.concat([...t.data, serverMsg(Bob, 'Bob', 'after'), Buffer.from('OUT\r\n')]);
        const before = rig.clientGot.length;
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length] as number;
          rig.server(stream.subarray(at, at + n));
          at += n;
        }
        expect(fileBytesIn(rig.clientGot.subarray(before))).toBeLessThan(size);
        (rig.sinks[0] as TestSink).decide(clean ? CLEAN : INFECTED);
        await tick();
        const got = rig.clientGot.subarray(before);
        if (clean) expect(got.equals(stream)).toBe(true);
        else {
          expect(fileBytesIn(got)).toBeLessThan(size);
          expect(byeIn(got, A, Bob)).toBe(true);
          expect(got.toString('latin1').endsWith('OUT\r\n')).toBe(true);
        }
        expect(rig.closed).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('fuzz, outbound: any chunking of the client stream, either verdict; the dropped D transaction is answered once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.array(fc.integer({ min: 1, max: 2500 }), { minLength: 1, maxLength: 10 }), fc.boolean(), async (size, cuts, clean) => {
        const file = crypto.randomBytes(size);
        const rig = new Rig();
        rig.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`).server(`JOI ${Bob} Bob\r\n`);
        rig.client(Buffer.concat(p2pMsgs(inviteText(A, Bob, 'o.bin', size, undefined, { sessionId: 4711, callId: CALL }), { id: 7, dest: Bob, client: { trid: 3 } })));
        rig.server(Buffer.concat(p2pMsgs(okText(Bob, A, 4711, CALL), { id: 9, dest: A, server: { from: Bob } })));
        const data = dataMsgs(file, { id: 8, dest: Bob, client: { trid: 10 }, chunk: 500 });
        const stream = Buffer.concat([...data, Buffer.from('OUT\r\n')]);
        const sBefore = rig.serverGot.length;
        const cBefore = rig.clientGot.length;
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length] as number;
          rig.client(stream.subarray(at, at + n));
          at += n;
        }
        expect(fileBytesIn(rig.serverGot.subarray(sBefore))).toBeLessThan(size);
        (rig.sinks[0] as TestSink).decide(clean ? CLEAN : INFECTED);
        await tick();
        const toServer = rig.serverGot.subarray(sBefore);
        const toAlice = rig.clientGot.subarray(cBefore).toString('latin1');
        if (clean) {
          expect(toServer.equals(stream)).toBe(true);
          expect(toAlice).toBe('');
        } else {
          expect(fileBytesIn(toServer)).toBe(size - (size % 500 || 500));
          expect(byeIn(toServer, Bob, A)).toBe(true);
          expect(toServer.toString('latin1').endsWith('OUT\r\n')).toBe(true);
          expect(toAlice.match(/^ACK \d+\r\n/gm)).toEqual([`ACK ${10 + data.length - 1}\r\n`]);
          expect(byeIn(Buffer.from(toAlice, 'latin1'), A, Bob)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('msnp: verdict holds end with the tunnel (dispose) and follow the configured hold-back', () => {
  afterEach(() => jest.useRealTimers());

  it('dispose while the last chunk waits: the timer is cleared, a late verdict writes nothing, open files end as partial', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const file = crypto.randomBytes(5000);
    const { rig, data } = inboundRig(file);
    // A second transfer still open (its data incomplete) when the tunnel goes.
    const other = crypto.randomBytes(4000);
    const t2 = inbound(other, 1202, 4800, '{6A8E1C4B-0000-4000-8000-000000004800}');
    rig.server(t2.invite).client(t2.ok);
    rig.server(t2.data[0] as Buffer);
    for (const m of data) rig.server(m);
    expect(jest.getTimerCount()).toBe(1);
    const got = rig.clientGot.length;
    const sent = rig.serverGot.length;
    rig.session.dispose?.();
    rig.session.dispose?.();
    expect(jest.getTimerCount()).toBe(0);
    // The second transfer's data came first: its sink was opened first.
    const [second, first] = rig.sinks as [TestSink, TestSink];
    expect(second.draft.detail?.sessionId).toBe(4800);
    expect(second.ended).toBe(false);
    expect(first.ended).toBe(true);
    first.decide(CLEAN);
    await tick();
    jest.advanceTimersByTime(60_000);
    expect(rig.clientGot.length).toBe(got);
    expect(rig.serverGot.length).toBe(sent);
    expect(rig.closed).toBeNull();
  });

  it('a sink that holds nothing (file_hold_back_bytes 0): the completing chunk passes at once, the file is still scanned', () => {
    const file = crypto.randomBytes(5000);
    const { rig, data } = inboundRig(file, new Rig(undefined, true, 0));
    const before = rig.clientGot.length;
    for (const m of data) rig.server(m);
    expect(rig.clientGot.subarray(before).equals(Buffer.concat(data))).toBe(true);
    expect(Buffer.concat((rig.sinks[0] as TestSink).chunks).equals(file)).toBe(true);
    expect((rig.sinks[0] as TestSink).ended).toBe(true);
  });
});
