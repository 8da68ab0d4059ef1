// XEP-0047 in-band files whose last stanzas wait for the AV verdict
// (src/protocols/xmpp/ibb.ts, the hold rules in its header): the session is
// driven as the relay drives it, the file sink is a scanned sink whose
// verdict the test gives. A clean file reaches the receiver byte-identical
// and in order; an infected one never arrives whole: its held stanzas are
// refused (the sender gets errors), the receiver gets an IBB <close/>; a
// sender that waits for every ack never deadlocks.
import crypto from 'node:crypto';
import fc from 'fast-check';
import YAML from 'yaml';
import { parsePolicy } from '../../../../src/policy';
import type { EventDraft, SessionContext, Side } from '../../../../src/protocols/types';
import { xmppModule } from '../../../../src/protocols/xmpp';
import type { FileVerdict, VerdictSink } from '../../../../src/protocols/files/sink';
import { loggedIn, type Harness, type Recorded } from './harness';

const NS = 'http://jabber.org/protocol/ibb';
const BOB = 'bob@imgate.test/t';

/** A scanned file sink whose verdict the test decides. */
class TestSink implements VerdictSink {
  readonly scanning = true;
  readonly chunks: Buffer[] = [];
  ended: boolean | null = null;
  readonly verdict: Promise<FileVerdict>;
  decide: (v: FileVerdict) => void = () => undefined;
  constructor(
    readonly draft: EventDraft,
    private readonly wait: { ms: number; failOpen: boolean },
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
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const PASS: FileVerdict = { pass: true };
const INFECTED: FileVerdict = { pass: false, why: 'infected: Unit.Bad', rule: 'av:clamd' };

/** The unit Harness with the gateway's openFile: each transfer gets a TestSink. */
class HoldHarness implements Pick<Harness, 'client' | 'server' | 'reset'> {
  toServer: Buffer[] = [];
  toClient: Buffer[] = [];
  events: Recorded[] = [];
  closed: string | null = null;
  logs: string[] = [];
  sinks: TestSink[] = [];
  readonly session;

  constructor(
    wait = { ms: 30_000, failOpen: false },
    /** What the gateway's sink states as inspect.file_hold_back_bytes (absent: the sink states none). */
    holdBackBytes?: number,
  ) {
    const compiled = parsePolicy(YAML.parse('default: allow\nrules: []\n'), null).compiled;
    const log = (o: object, m?: string): void => void this.logs.push(`${m} ${JSON.stringify(o)}`);
    const ctx: SessionContext = {
      conn: 't1',
      destination: { host: '127.0.0.1', port: 5222 },
      options: { starttls: 'pass', maxUnitBytes: 65536 },
      decide: (draft) => {
        const verdict = compiled.evaluate({ id: 'e', time: 0, conn: 't1', door: 'socks5', groups: [], kind: draft.kind, protocol: draft.protocol, direction: draft.side === 'c2s' ? 'out' : 'in' });
        this.events.push({ draft, verdict });
        return verdict;
      },
      redact: (text) => text,
      log: { debug: log, info: log, warn: log, error: log },
      openFile: (draft) => {
        const s = new TestSink(draft, wait);
        if (holdBackBytes !== undefined) Object.assign(s, { holdBackBytes });
        this.sinks.push(s);
        return s;
      },
    };
    this.session = xmppModule.create(ctx, {
      forward: (from: Side, data: Buffer) => (from === 'c2s' ? this.toServer : this.toClient).push(Buffer.from(data)),
      inject: (to: Side, data: Buffer) => (to === 'c2s' ? this.toClient : this.toServer).push(Buffer.from(data)),
      close: (reason: string) => {
        this.closed = reason;
      },
    });
  }
  client(s: string | Buffer): this {
    this.session.push('c2s', typeof s === 'string' ? Buffer.from(s) : s);
    return this;
  }
  server(s: string | Buffer): this {
    this.session.push('s2c', typeof s === 'string' ? Buffer.from(s) : s);
    return this;
  }
  serverGot(): string {
    return Buffer.concat(this.toServer).toString('utf8');
  }
  clientGot(): string {
    return Buffer.concat(this.toClient).toString('utf8');
  }
  reset(): void {
    this.toServer = [];
    this.toClient = [];
  }
}

const login = (h: HoldHarness): HoldHarness => loggedIn(h as unknown as Harness) as unknown as HoldHarness;
const tick = () => new Promise((r) => setImmediate(r));

function pieces(data: Buffer, block: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length; i += block) out.push(data.subarray(i, i + block).toString('base64'));
  return out;
}
const siOffer = (sid: string, size: number, to = BOB) =>
  `<iq type='set' id='si-${sid}' to='${to}'><si xmlns='http://jabber.org/protocol/si' id='${sid}' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='f.bin' size='${size}'/></si></iq>`;
const open = (sid: string, stanza = 'iq', to = BOB) => `<iq type='set' id='o-${sid}' to='${to}'><open xmlns='${NS}' block-size='4096' sid='${sid}' stanza='${stanza}'/></iq>`;
const data = (sid: string, seq: number, b64: string, to = BOB) => `<iq type='set' id='d-${sid}-${seq}' to='${to}'><data xmlns='${NS}' seq='${seq}' sid='${sid}'>${b64}</data></iq>`;
const mdata = (sid: string, seq: number, b64: string, to = BOB) => `<message id='m-${sid}-${seq}' to='${to}'><data xmlns='${NS}' seq='${seq}' sid='${sid}'>${b64}</data></message>`;
const close = (sid: string, to = BOB) => `<iq type='set' id='c-${sid}' to='${to}'><close xmlns='${NS}' sid='${sid}'/></iq>`;

/** The file bytes a receiver can rebuild from what reached it. */
function received(wire: string, sid: string): Buffer {
  const re = new RegExp(`<data[^>]*sid='${sid}'[^>]*>([^<]*)</data>`, 'g');
  return Buffer.concat([...wire.matchAll(re)].map((m) => Buffer.from(m[1] as string, 'base64')));
}

describe('XMPP IBB: the last stanzas wait for the verdict', () => {
  it('declared size, pipelining sender: everything but the final data and the close passes; clean releases them in order, byte-identical', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(10_000);
    const p = pieces(file, 4096);
    const stanzas = [siOffer('s1', file.length), open('s1'), data('s1', 0, p[0] as string), data('s1', 1, p[1] as string), data('s1', 2, p[2] as string), close('s1')];
    h.client(stanzas.join(''));
    expect(h.serverGot()).toBe(stanzas.slice(0, 4).join(''));
    const sink = h.sinks[0] as TestSink;
    // The file is whole at the gateway and decided without the close.
    expect(sink.bytes.equals(file)).toBe(true);
    expect(sink.ended).toBe(true);
    sink.decide(PASS);
    await tick();
    expect(h.serverGot()).toBe(stanzas.join(''));
    expect(received(h.serverGot(), 's1').equals(file)).toBe(true);
  });

  it('declared size, infected: the receiver never gets the final data; the sender gets errors, the receiver a <close/>', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(10_000);
    const p = pieces(file, 4096);
    h.client([siOffer('s2', file.length), open('s2'), ...p.map((b, i) => data('s2', i, b)), close('s2')].join(''));
    h.sinks[0]?.decide(INFECTED);
    await tick();
    const server = h.serverGot();
    expect(received(server, 's2').length).toBe(8192);
    expect(server).not.toContain(`id='d-s2-2'`);
    expect(server).not.toContain(`id='c-s2'`);
    // The receiver is told the stream is closed, by an iq whose answer the gateway hides.
    const m = /<iq type='set' id='(imgate-\d+)' to='bob@imgate.test\/t'><close xmlns='http:\/\/jabber.org\/protocol\/ibb' sid='s2'\/><\/iq>$/.exec(server);
    expect(m).not.toBeNull();
    const client = h.clientGot();
    expect(client).toMatch(/<iq type='error' id='d-s2-2'[^>]*><error type='cancel'><forbidden [^>]*\/><text [^>]*>File transfer blocked by imgate policy \(rule av:clamd\)<\/text><\/error><\/iq>/);
    expect(client).toContain(`id='c-s2'`);
    h.reset();
    h.server(`<iq type='result' id='${m?.[1]}' from='${BOB}' to='alice@imgate.test/t'/>`);
    expect(h.clientGot()).toBe('');
    // The session goes on.
    h.client(`<message to='${BOB}' id='after'><body>hi</body></message>`);
    expect(h.serverGot()).toContain(`id='after'`);
  });

  it('a sender that waits for every ack cannot deadlock: only the final stanza is held, the close comes after its ack', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(9000);
    const p = pieces(file, 4096);
    h.client(siOffer('s3', file.length) + open('s3'));
    h.server(`<iq type='result' id='o-s3' from='${BOB}'/>`);
    for (let i = 0; i < p.length - 1; i++) {
      h.client(data('s3', i, p[i] as string));
      // Each non-final chunk reaches the receiver at once, so its ack comes.
      expect(h.serverGot()).toContain(`id='d-s3-${i}'`);
      h.server(`<iq type='result' id='d-s3-${i}' from='${BOB}'/>`);
    }
    const last = p.length - 1;
    h.client(data('s3', last, p[last] as string));
    expect(h.serverGot()).not.toContain(`id='d-s3-${last}'`);
    h.sinks[0]?.decide(PASS);
    await tick();
    expect(h.serverGot()).toContain(`id='d-s3-${last}'`);
    h.server(`<iq type='result' id='d-s3-${last}' from='${BOB}'/>`);
    h.client(close('s3'));
    expect(h.serverGot().endsWith(close('s3'))).toBe(true);
    expect(received(h.serverGot(), 's3').equals(file)).toBe(true);
  });

  it('inbound files too: infected data from the server never reaches the client whole; the client gets a <close/> from the sender', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(5000);
    const p = pieces(file, 4096);
    const from = BOB;
    const inSi = `<iq type='set' id='si-in' from='${from}' to='alice@imgate.test/t'><si xmlns='http://jabber.org/protocol/si' id='in1' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='in.bin' size='${file.length}'/></si></iq>`;
    const inData = (seq: number, b64: string) => `<iq type='set' id='di-${seq}' from='${from}' to='alice@imgate.test/t'><data xmlns='${NS}' seq='${seq}' sid='in1'>${b64}</data></iq>`;
    h.server(inSi + inData(0, p[0] as string) + inData(1, p[1] as string));
    expect(h.clientGot()).toContain(`id='di-0'`);
    expect(h.clientGot()).not.toContain(`id='di-1'`);
    h.sinks[0]?.decide(INFECTED);
    await tick();
    expect(h.clientGot()).not.toContain(`id='di-1'`);
    expect(h.clientGot()).toMatch(/<iq type='set' id='imgate-\d+' to='alice@imgate.test\/t' from='bob@imgate.test\/t'><close xmlns='http:\/\/jabber.org\/protocol\/ibb' sid='in1'\/><\/iq>$/);
    expect(h.serverGot()).toMatch(/<iq type='error' id='di-1' to='bob@imgate.test\/t'>/);
  });

  it('message-stanza data of undeclared size: the last 8 KiB wait for the close and the verdict', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(20_000);
    const p = pieces(file, 2048);
    h.client(open('s4', 'message') + p.map((b, i) => mdata('s4', i, b)).join(''));
    const before = received(h.serverGot(), 's4').length;
    expect(before).toBeLessThanOrEqual(file.length - 8192);
    expect(before).toBeGreaterThan(file.length - 8192 - 2048);
    h.client(close('s4'));
    expect(h.serverGot()).not.toContain(`id='c-s4'`);
    h.sinks[0]?.decide(PASS);
    await tick();
    expect(received(h.serverGot(), 's4').equals(file)).toBe(true);
    expect(h.serverGot().endsWith(close('s4'))).toBe(true);
  });

  it('message-stanza data whose receiver closes the stream: the held window is decided like its own close', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(3000);
    h.client(open('s8', 'message') + mdata('s8', 0, file.toString('base64')));
    expect(received(h.serverGot(), 's8').length).toBe(0);
    h.server(`<iq type='set' id='rc' from='${BOB}' to='alice@imgate.test/t'><close xmlns='${NS}' sid='s8'/></iq>`);
    expect(h.sinks[0]?.ended).toBe(true);
    h.sinks[0]?.decide(PASS);
    await tick();
    expect(received(h.serverGot(), 's8').equals(file)).toBe(true);
  });

  it('a sender running on past its file while it is decided: held up to a bound, the rest refused (no buffer grows)', async () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(100);
    h.client(siOffer('s9', file.length) + open('s9') + data('s9', 0, file.toString('base64')));
    for (let i = 1; i <= 40; i++) h.client(data('s9', i, 'QUJD'));
    // 32 held (the file's own chunk and 31 more), 9 refused at once, no stream close for them.
    expect((h.clientGot().match(/type='error'/g) ?? []).length).toBe(9);
    expect(h.serverGot()).not.toContain('<close');
    h.sinks[0]?.decide(PASS);
    await tick();
    expect(h.serverGot()).toContain(`id='d-s9-31'`);
    expect(h.serverGot()).not.toContain(`id='d-s9-32'`);
  });

  it('iq data of undeclared size is never held (its end is only known after acks a waiting sender needs)', () => {
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(6000);
    const stanzas = [open('s5'), ...pieces(file, 4096).map((b, i) => data('s5', i, b)), close('s5')];
    h.client(stanzas.join(''));
    expect(h.serverGot()).toBe(stanzas.join(''));
  });

  it('no verdict in time: fail-closed refuses the held stanzas, fail-open lets them through', async () => {
    const file = crypto.randomBytes(3000);
    const stanzas = [siOffer('s6', file.length), open('s6'), data('s6', 0, file.toString('base64')), close('s6')];
    const closed = login(new HoldHarness({ ms: 30, failOpen: false }));
    closed.client(stanzas.join(''));
    await new Promise((r) => setTimeout(r, 80));
    expect(received(closed.serverGot(), 's6').length).toBe(0);
    expect(closed.clientGot()).toContain('rule av:timeout');

    const open_ = login(new HoldHarness({ ms: 30, failOpen: true }));
    open_.client(stanzas.join(''));
    await new Promise((r) => setTimeout(r, 80));
    expect(open_.serverGot()).toBe(stanzas.join(''));
  });

  it('with XEP-0198 on, a refused held stanza is replaced by a counted ping so the server acks stay valid', async () => {
    const h = login(new HoldHarness());
    h.client(`<enable xmlns='urn:xmpp:sm:3'/>`).server(`<enabled xmlns='urn:xmpp:sm:3'/>`);
    const file = crypto.randomBytes(100);
    h.reset();
    h.client(siOffer('s7', file.length) + open('s7') + data('s7', 0, file.toString('base64')));
    h.sinks[0]?.decide(INFECTED);
    await tick();
    // offer, open, ping substitute for the data, IBB close to bob: 4 stanzas reached the server for the client's 3 + our close.
    expect(h.serverGot()).toMatch(/<ping xmlns='urn:xmpp:ping'\/>/);
    h.reset();
    // The server handled 4; the client sent 3 (our close is ours): its ack says 3.
    h.server(`<a xmlns='urn:xmpp:sm:3' h='4'/>`);
    expect(h.clientGot()).toBe(`<a xmlns='urn:xmpp:sm:3' h='3'/>`);
  });
});

describe('XMPP IBB holds under any shape of transfer', () => {
  it('clean: the receiver gets exactly what was sent, in order; infected: never the whole file when a hold applies; never throws', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 30_000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.boolean(),
        fc.constantFrom('iq', 'message'),
        fc.boolean(),
        fc.integer({ min: 1, max: 3000 }),
        async (bytes, block, declared, kind, infected, split) => {
          const file = Buffer.from(bytes);
          const h = login(new HoldHarness());
          const p = pieces(file, block);
          const stanzas = [
            ...(declared ? [siOffer('f', file.length)] : []),
            open('f', kind),
            ...p.map((b, i) => (kind === 'message' ? mdata('f', i, b) : data('f', i, b))),
            close('f'),
          ];
          const wire = stanzas.join('');
          for (let i = 0; i < wire.length; i += split) h.client(wire.slice(i, i + split));
          h.sinks[0]?.decide(infected ? INFECTED : PASS);
          await tick();
          expect(h.closed).toBeNull();
          const got = received(h.serverGot(), 'f');
          if (!infected) expect(h.serverGot()).toBe(wire);
          else if (declared || kind === 'message') expect(got.length).toBeLessThan(file.length);
          expect(got.equals(file.subarray(0, got.length))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('XMPP IBB holds end with the tunnel (dispose) and follow the configured hold-back', () => {
  afterEach(() => jest.useRealTimers());

  it('dispose while a declared-size file is decided: its timer is cleared and a late verdict writes nothing', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(5000);
    h.client(siOffer('d1', file.length) + open('d1') + data('d1', 0, file.toString('base64')));
    expect(h.serverGot()).not.toContain(`id='d-d1-0'`);
    expect(jest.getTimerCount()).toBe(1);
    h.reset();
    h.session.dispose?.();
    expect(jest.getTimerCount()).toBe(0);
    (h.sinks[0] as TestSink).decide(PASS);
    await tick();
    jest.advanceTimersByTime(60_000);
    expect(h.serverGot()).toBe('');
    expect(h.clientGot()).toBe('');
    // Later bytes (none should come: the sockets are gone) are not parsed either.
    h.client(`<message to='${BOB}' id='late'><body>x</body></message>`);
    expect(h.serverGot()).toBe('');
  });

  it('dispose with a message-data window still open: the transfer ends as partial, nothing held is sent, no timer is left', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const h = login(new HoldHarness());
    const file = crypto.randomBytes(3000);
    h.client(open('d2', 'message') + mdata('d2', 0, file.toString('base64')));
    expect(received(h.serverGot(), 'd2').length).toBe(0);
    h.session.dispose?.();
    h.session.dispose?.();
    const sink = h.sinks[0] as TestSink;
    expect(sink.ended).toBe(false);
    expect(sink.bytes.equals(file)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    sink.decide(PASS);
    await tick();
    expect(received(h.serverGot(), 'd2').length).toBe(0);
  });

  it('a sink that holds nothing (file_hold_back_bytes 0): every stanza passes at once, the file is still scanned', () => {
    const h = login(new HoldHarness(undefined, 0));
    const file = crypto.randomBytes(10_000);
    const msg = [open('z1', 'message'), ...pieces(file, 2048).map((b, i) => mdata('z1', i, b)), close('z1')];
    const decl = [siOffer('z2', file.length), open('z2'), ...pieces(file, 4096).map((b, i) => data('z2', i, b)), close('z2')];
    h.client(msg.join('') + decl.join(''));
    expect(h.serverGot()).toBe(msg.join('') + decl.join(''));
    expect(h.sinks.map((s) => s.bytes.equals(file))).toEqual([true, true]);
    expect(h.sinks.map((s) => s.ended)).toEqual([true, true]);
  });

  it('a smaller configured hold-back holds only that many bytes of message data', () => {
    const h = login(new HoldHarness(undefined, 2048));
    const file = crypto.randomBytes(20_000);
    h.client(open('w1', 'message') + pieces(file, 1024).map((b, i) => mdata('w1', i, b)).join(''));
    const passed = received(h.serverGot(), 'w1').length;
    // Whole stanzas are held: at least the last 2048 bytes, less than one stanza more.
    expect(passed).toBeLessThanOrEqual(file.length - 2048);
    expect(passed).toBeGreaterThan(file.length - 2048 - 1024);
  });
});
