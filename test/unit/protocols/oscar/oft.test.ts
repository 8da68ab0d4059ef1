// OSCAR file transfer data connections. SYNTHETIC: there is no capture of a
// rendezvous or of OFT2 (../shared/captures/README.md), so the proposals and
// OFT2 streams are built from the layouts in libpurple (family_icbm.c,
// peer.c, peer_oft.c) and libfaim ft.c, independently of the dissector.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { clearRendezvous, MAX_OFT_HEADER, oscarModule, OftPayload } from '../../../../src/protocols/oscar';
import { fileOfferInAt, fileOfferOutAt, flap, HELLO, oftHeader, selfInfo } from './frames';
import { Harness } from './harness';

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
const PROMPT = 0x0101;

/** Everything the sender writes on the data connection for one file (its prompt, then the bytes), plus the trailer of a second file. */
function senderStream(file: Buffer, name: string, extra: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([oftHeader(PROMPT, { size: file.length, name }), file, extra]);
}

function extract(p: OftPayload, stream: Buffer, sizes: number[]): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (let k = 0; i < stream.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length] as number);
    out.push(...p.push(stream.subarray(i, i + n)));
    i += n;
  }
  return Buffer.concat(out);
}

describe('OFT2 payload extraction (synthetic OFT2 streams)', () => {
  it('prompt then data: exactly the file bytes, declared name and size, done; what follows is trailer', () => {
    const file = crypto.randomBytes(10_000);
    const next = oftHeader(PROMPT, { size: 5, name: 'second.txt' });
    const p = new OftPayload();
    expect(p.state).toBe('header');
    const got = p.push(senderStream(file, 'report.pdf', Buffer.concat([next, Buffer.from('hello')])));
    expect(sha(Buffer.concat(got))).toBe(sha(file));
    expect(p.state).toBe('done');
    expect(p.declared).toEqual({ name: 'report.pdf', size: 10_000 });
    expect(p.push(Buffer.from('more'))).toEqual([]);
  });

  it('returns subarrays of the pushed chunk (no copy of file bytes)', () => {
    const file = Buffer.from('plain file contents, not starting with O');
    const stream = senderStream(file, 'a.txt');
    const [part] = new OftPayload().push(stream);
    expect(part?.buffer).toBe(stream.buffer);
  });

  it('split at every chunk size 1..7 and at random cuts: the same bytes', () => {
    const file = crypto.randomBytes(3000);
    const stream = senderStream(file, 'split.bin', oftHeader(PROMPT, { size: 1, name: 'x' }));
    for (const size of [1, 2, 3, 5, 7, 255, 256, 257]) {
      const p = new OftPayload();
      expect(sha(extract(p, stream, [size]))).toBe(sha(file));
      expect(p.state).toBe('done');
    }
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        const p = new OftPayload();
        return extract(p, stream, sizes).equals(file) && p.state === 'done';
      }),
      { numRuns: 200 },
    );
  });

  it('a long name (hdrlen > 256) and a UTF-16BE name', () => {
    const long = `${'n'.repeat(300)}.txt`;
    const p1 = new OftPayload();
    p1.push(Buffer.concat([oftHeader(PROMPT, { size: 3, name: long }), Buffer.from('abc')]));
    expect(p1.declared).toEqual({ name: long, size: 3 });
    const p2 = new OftPayload();
    expect(Buffer.concat(p2.push(Buffer.concat([oftHeader(PROMPT, { size: 3, name: 'Übersicht €.xlsx', encoding: 2 }), Buffer.from('xyz')])))).toEqual(Buffer.from('xyz'));
    expect(p2.declared).toEqual({ name: 'Übersicht €.xlsx', size: 3 });
  });

  it('a file that itself starts with "OFT2" is data, not a header; tiny and empty files', () => {
    const file = Buffer.concat([oftHeader(PROMPT, { size: 9, name: 'inner' }), crypto.randomBytes(100)]);
    for (const size of [1, 3, 8, 1000]) {
      const p = new OftPayload();
      expect(extract(p, senderStream(file, 'looks-like-oft.bin'), [size]).equals(file)).toBe(true);
      expect(p.state).toBe('done');
    }
    const tiny = new OftPayload();
    expect(Buffer.concat(tiny.push(senderStream(Buffer.from('OFT'), 't')))).toEqual(Buffer.from('OFT'));
    expect(tiny.state).toBe('done');
    const empty = new OftPayload();
    expect(empty.push(senderStream(Buffer.alloc(0), 'empty'))).toEqual([]);
    expect(empty.state).toBe('done');
    expect(empty.declared).toEqual({ name: 'empty', size: 0 });
  });

  it('a resumed transfer (0x0106 before the data) fails: it cannot be hashed whole', () => {
    const p = new OftPayload();
    const stream = Buffer.concat([oftHeader(PROMPT, { size: 5000, name: 'r.bin' }), oftHeader(0x0106, { size: 5000, name: 'r.bin' }), crypto.randomBytes(3000)]);
    expect(extract(p, stream, [3])).toEqual(Buffer.alloc(0));
    expect(p.state).toBe('failed');
    expect(p.failure).toMatch(/resume/);
  });

  it.each([
    ['not OFT2', Buffer.from('GET / HTTP/1.1\r\n\r\n'), /not an OFT2/],
    ['hdrlen below the fixed part', oftHeader(PROMPT, { size: 1, name: 'a', hdrlen: 100 }), /out of range/],
    ['hdrlen over the cap', oftHeader(PROMPT, { size: 1, name: 'a', hdrlen: MAX_OFT_HEADER + 1 }), /out of range/],
    ['not a prompt', oftHeader(0x0202, { size: 1, name: 'a' }), /type 0x0202/],
    ['encrypted', oftHeader(PROMPT, { size: 1, name: 'a', encrypt: 1 }), /encrypted/],
  ])('%s: failed, nothing returned', (_name, stream, why) => {
    const p = new OftPayload();
    expect(p.push(Buffer.concat([stream, Buffer.from('data')]))).toEqual([]);
    expect(p.state).toBe('failed');
    expect(p.failure).toMatch(why);
  });

  it('an oversized hdrlen fails after 6 bytes, before the header is buffered', () => {
    const p = new OftPayload();
    const h = Buffer.from('OFT2\xff\xff', 'latin1');
    p.push(h);
    expect(p.state).toBe('failed');
  });

  it('fuzz: arbitrary and mutated streams never throw; output never exceeds the declared size', () => {
    const base = senderStream(crypto.randomBytes(600), 'fuzz.bin');
    const stream = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }).map((muts) => {
        const b = Buffer.from(base);
        for (const [at, v] of muts) b[at] = v;
        return b;
      }),
    );
    fc.assert(
      fc.property(stream, fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), (s, sizes) => {
        const p = new OftPayload();
        const out = extract(p, s, sizes);
        const declared = p.declared?.size ?? 0;
        return out.length <= declared && ['header', 'data', 'done', 'failed'].includes(p.state) && (p.state !== 'done' || out.length === declared);
      }),
      { numRuns: 400 },
    );
  });
});

describe('OSCAR rendezvous proposals -> expected data connections', () => {
  beforeEach(() => clearRendezvous());

  function loggedIn(h: Harness): void {
    h.push('s2c', flap(1, 100, HELLO));
    h.push('c2s', flap(1, 10, HELLO));
    h.push('s2c', flap(2, 101, selfInfo(4, '157901844')));
  }

  it('an inbound proposal names the offerer: a tunnel to that ip:port is the transfer, with OFT2 framing', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'holiday.jpg', 4321, { ip: '127.0.0.1', verified: '10.1.2.3', port: 40123 })));
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1', '10.1.2.3']) {
      const e = oscarModule.expectedConnection?.(host, 40123);
      expect(e?.event).toMatchObject({ kind: 'file', side: 's2c', protocol: 'oscar', app: 'icq', account: '157901844', peer: '461758769', file: { name: 'holiday.jpg', size: 4321 }, detail: { rendezvous: 'oft', data: true, cookie: '0102030405060708' } });
      expect(e?.offer.action).toBe('allow');
      const payload = e?.payload?.();
      expect(payload?.state).toBe('header');
    }
    expect(oscarModule.expectedConnection?.('127.0.0.1', 40124)).toBeUndefined();
    expect(oscarModule.expectedConnection?.('127.0.0.2', 40123)).toBeUndefined();
  });

  it('a blocked proposal is remembered with its block (its data connection stays blocked)', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'setup.exe', 10, { ip: '127.0.0.1', port: 40200 })));
    expect(h.ofKind('file')[0]?.verdict).toMatchObject({ action: 'block', rule: 'no-exe' });
    expect(oscarModule.expectedConnection?.('127.0.0.1', 40200)?.offer).toMatchObject({ action: 'block', rule: 'no-exe' });
  });

  it('outbound, proxied and reverse (request 2) proposals are not expected connections', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('c2s', flap(2, 11, fileOfferOutAt(5, '461758769', 'out.txt', 10, { ip: '127.0.0.1', port: 40300 })));
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'proxied.txt', 10, { ip: '127.0.0.1', port: 40301, proxy: true })));
    h.push('s2c', flap(2, 103, fileOfferInAt(0, '461758769', 'reverse.txt', 10, { ip: '127.0.0.1', port: 40302, requestNumber: 2 })));
    expect(h.ofKind('file').map((e) => e.draft.file?.name)).toEqual(['out.txt', 'proxied.txt', 'reverse.txt']);
    for (const port of [40300, 40301, 40302]) expect(oscarModule.expectedConnection?.('127.0.0.1', port)).toBeUndefined();
    // The proposals themselves passed unchanged.
    expect(h.closed).toBeUndefined();
  });
});
