// Random bytes, truncations, splits and mutations of real MSNP lines: the
// session never throws, its held bytes stay bounded, and with an allow-all
// policy whatever it forwards is the input itself (a prefix of it).
import fc from 'fast-check';
import { FILE_TRANSFER_EUF_GUID } from '../../../../src/protocols/msnp';
import { clientMsg, Harness, serverMsg } from './harness';
import { byeText, dataMsgs, inviteText, p2pMsgs } from './slp-fixture';

const MAX_UNIT = 4096;
const ALLOW_ALL = { default: 'allow', rules: [] };
const STRICT = {
  default: 'allow',
  rules: [
    { id: 'b', when: { kind: ['message'], text_matches: ['(?i)a'] }, then: 'block' },
    { id: 'r', when: { kind: ['message'], text_matches: ['e'] }, then: 'redact' },
    { id: 'f', when: { kind: ['file'] }, then: 'block' },
  ],
};

const CLIENT_LINES: Buffer[] = [
  Buffer.from('VER 1 MSNP8 CVR0\r\n'),
  Buffer.from('USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n'),
  Buffer.from('CAL 94 tesla_thomas@hotmail.com\r\n'),
  clientMsg(96, 'N', 'Hey Brian'),
  clientMsg(99, 'A', 'Not much, did you hear about the new IT guy they hired?'),
  Buffer.from('MSG 97 U 96\r\nMIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: tesla_brian@hotmail.com\r\n\r\n\r\n'),
  Buffer.from('UUX 11 10\r\n<Data/>   '),
  Buffer.from('OUT\r\n'),
  ...p2pMsgs(inviteText('a@b.c', 'd@e.f', 'f.bin', 10, FILE_TRANSFER_EUF_GUID), { id: 5, dest: 'd@e.f', chunk: 500, client: { trid: 200 } }),
  // File data of that INVITE's session (4711), in any order the generator picks.
  ...dataMsgs(Buffer.from('0123456789'), { id: 8, dest: 'd@e.f', chunk: 4, client: { trid: 300 } }),
  ...p2pMsgs(byeText('a@b.c', 'd@e.f'), { id: 9, dest: 'd@e.f', client: { trid: 400 } }),
];
const SERVER_LINES: Buffer[] = [
  Buffer.from('USR 93 OK tesla_brian@hotmail.com Brian\r\n'),
  Buffer.from('JOI tesla_thomas@hotmail.com Thomas 1616756780\r\n'),
  serverMsg('tesla_thomas@hotmail.com', 'Thomas', 'Hey man, whats up?'),
  Buffer.from('UBX 1:bob@hotmail.com 7\r\n<Data/>'),
  Buffer.from('241 13 9\r\n<ml></ml>'),
  Buffer.from('NAK 96\r\n'),
  ...p2pMsgs(inviteText('x@y.z', 'a@b.c', 'g.bin', 11, FILE_TRANSFER_EUF_GUID), { id: 6, dest: 'a@b.c', chunk: 400, server: { from: 'x@y.z' } }),
  ...dataMsgs(Buffer.from('abcdefghijk'), { id: 7, dest: 'a@b.c', chunk: 5, server: { from: 'x@y.z' } }),
];

const mutate = (b: Buffer, at: number, byte: number): Buffer => {
  const c = Buffer.from(b);
  if (c.length > 0) c[at % c.length] = byte;
  return c;
};

const unitArb = (pool: Buffer[]): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.constantFrom(...pool),
    fc.tuple(fc.constantFrom(...pool), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, byte]) => mutate(b, at, byte)),
    fc.tuple(fc.constantFrom(...pool), fc.nat()).map(([b, n]) => b.subarray(0, n % (b.length + 1))),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  );

/** Splits `data` at the given cut points. */
const split = (data: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  out.push(data.subarray(prev));
  return out;
};

describe('msnp fuzz', () => {
  it('never throws, stays bounded, and forwards only a prefix of the input when everything is allowed', () => {
    fc.assert(
      fc.property(fc.array(unitArb(CLIENT_LINES), { maxLength: 12 }), fc.array(unitArb(SERVER_LINES), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (cs, ss, cuts) => {
        const h = new Harness(ALLOW_ALL, { maxUnitBytes: MAX_UNIT });
        const c = Buffer.concat(cs);
        const s = Buffer.concat(ss);
        const cp = split(c, cuts);
        const sp = split(s, cuts.map((x) => x * 7));
        for (let i = 0; i < Math.max(cp.length, sp.length); i++) {
          const a = cp[i];
          const b = sp[i];
          if (a !== undefined) h.client(a);
          if (b !== undefined) h.server(b);
          expect((h.session as unknown as { bufferedBytes: number }).bufferedBytes).toBeLessThanOrEqual(6 * MAX_UNIT);
        }
        h.session.end('c2s');
        h.session.end('s2c');
        const toServer = Buffer.concat(h.toServer);
        // Injected bytes only come with blocks, and nothing is blocked here.
        expect(h.injectedToClient).toHaveLength(0);
        expect(c.subarray(0, toServer.length).equals(toServer)).toBe(true);
        if (h.closed === undefined) expect(toServer.length).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });

  it('with blocking and redacting rules: never throws, bounded', () => {
    fc.assert(
      fc.property(fc.array(unitArb(CLIENT_LINES), { maxLength: 12 }), fc.array(unitArb(SERVER_LINES), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (cs, ss, cuts) => {
        const h = new Harness(STRICT, { maxUnitBytes: MAX_UNIT });
        for (const p of split(Buffer.concat(cs), cuts)) h.client(p);
        for (const p of split(Buffer.concat(ss), cuts)) h.server(p);
        expect((h.session as unknown as { bufferedBytes: number }).bufferedBytes).toBeLessThanOrEqual(6 * MAX_UNIT);
        h.session.end('c2s');
        h.session.end('s2c');
      }),
      { numRuns: 300 },
    );
  });

  it('clean input split anywhere passes byte-identical', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...CLIENT_LINES.slice(2)), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), (cs, cuts) => {
        const h = new Harness(ALLOW_ALL, { maxUnitBytes: MAX_UNIT });
        const c = Buffer.concat(cs);
        for (const p of split(c, cuts)) h.client(p);
        h.session.end('c2s');
        expect(h.closed).toBeUndefined();
        expect(Buffer.concat(h.toServer).equals(c)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
