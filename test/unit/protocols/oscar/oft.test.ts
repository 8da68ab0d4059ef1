// OSCAR file transfer data connections. SYNTHETIC: there is no capture of a
// rendezvous or of OFT2 (../shared/captures/README.md), so the proposals and
// OFT2 streams are built from the layouts in libpurple (family_icbm.c,
// peer.c, peer_oft.c) and libfaim ft.c, independently of the dissector.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { clearRendezvous, MAX_OFT_HEADER, oscarModule, OftPayload, RV_PROXY_PORTS } from '../../../../src/protocols/oscar';
import { fileOfferInAt, fileOfferOutAt, flap, frames, HELLO, oftHeader, selfInfo, snacId } from './frames';
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

  it('a multi-file proposal: the total size is the offer\'s, not the first file\'s (each size comes from its OFT2 prompt)', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'photos', 90_000, { ip: '127.0.0.1', port: 40150, files: 3 })));
    expect(h.ofKind('file')[0]?.draft).toMatchObject({ file: { name: 'photos', size: 90_000 }, detail: { fileCount: 3 } });
    const e = oscarModule.expectedConnection?.('127.0.0.1', 40150);
    expect(e?.event.file).toEqual({ name: 'photos' });
    expect(e?.event.detail).toMatchObject({ fileCount: 3, offeredTotalSize: 90_000, file_from: 'upstream' });
  });

  it('a proxied proposal: the client will dial the proxy (TLV 0x0002) on its own ports, not the session number in TLV 0x0005', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'proxied.zip', 500, { ip: '10.9.8.7', port: 0x1234, proxy: true })));
    expect(h.ofKind('file')[0]?.draft.detail).toMatchObject({ proxy: true });
    expect(oscarModule.expectedConnection?.('10.9.8.7', 0x1234)).toBeUndefined();
    for (const port of RV_PROXY_PORTS) {
      const e = oscarModule.expectedConnection?.('10.9.8.7', port);
      expect(e?.event).toMatchObject({ side: 's2c', file: { name: 'proxied.zip', size: 500 }, detail: { proxy: true, file_from: 'upstream' } });
    }
  });

  it('a proxy proposal (request 3) for the own offer: the client joins the proxy and sends', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('c2s', flap(2, 11, fileOfferOutAt(5, '461758769', 'mine.txt', 10, { ip: '127.0.0.1', port: 40330 })));
    h.push('s2c', flap(2, 103, fileOfferInAt(0, '461758769', 'mine.txt', 10, { ip: '10.9.8.7', port: 0x2222, proxy: true, requestNumber: 3 })));
    expect(h.ofKind('file')).toHaveLength(1);
    expect(oscarModule.expectedConnection?.('10.9.8.7', 5190)?.event).toMatchObject({ side: 'c2s', file: { name: 'mine.txt' }, detail: { file_from: 'client' } });
  });

  it('a blocked proposal is remembered with its block (its data connection stays blocked)', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'setup.exe', 10, { ip: '127.0.0.1', port: 40200 })));
    expect(h.ofKind('file')[0]?.verdict).toMatchObject({ action: 'block', rule: 'no-exe' });
    expect(oscarModule.expectedConnection?.('127.0.0.1', 40200)?.offer).toMatchObject({ action: 'block', rule: 'no-exe' });
  });

  it('outbound and proxied proposals are not expected connections; a reverse one (request 2) for the own offer is, with the file from the client', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('c2s', flap(2, 11, fileOfferOutAt(5, '461758769', 'out.txt', 10, { ip: '127.0.0.1', port: 40300 })));
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'proxied.txt', 10, { ip: '127.0.0.1', port: 40301, proxy: true, cookie: Buffer.from('a1a2a3a4a5a6a7a8', 'hex') })));
    // The receiver of out.txt could not be reached and asks to be dialled (same cookie).
    h.push('s2c', flap(2, 103, fileOfferInAt(0, '461758769', 'out.txt', 10, { ip: '127.0.0.1', port: 40302, requestNumber: 2 })));
    // The reverse proposal is the same transfer, decided once.
    expect(h.ofKind('file').map((e) => e.draft.file?.name)).toEqual(['out.txt', 'proxied.txt']);
    for (const port of [40300, 40301]) expect(oscarModule.expectedConnection?.('127.0.0.1', port)).toBeUndefined();
    const e = oscarModule.expectedConnection?.('127.0.0.1', 40302);
    expect(e?.event).toMatchObject({ kind: 'file', side: 'c2s', protocol: 'oscar', peer: '461758769', file: { name: 'out.txt', size: 10 }, detail: { rendezvous: 'oft', file_from: 'client', data: true } });
    expect(e?.offer.action).toBe('allow');
    // The proposals themselves passed unchanged.
    expect(h.closed).toBeUndefined();
  });

  it('a reverse proposal for an offer not seen here is still expected, the file flowing from the client', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('s2c', flap(2, 102, fileOfferInAt(0, '461758769', 'late.txt', 10, { ip: '127.0.0.1', port: 40310, requestNumber: 2 })));
    expect(oscarModule.expectedConnection?.('127.0.0.1', 40310)?.event).toMatchObject({ side: 'c2s', file: { name: 'late.txt' }, detail: { file_from: 'client' } });
  });

  it('a reverse proposal for a blocked own offer is cancelled again and its connection stays blocked', () => {
    const h = new Harness(oscarModule);
    loggedIn(h);
    h.push('c2s', flap(2, 11, fileOfferOutAt(5, '461758769', 'tool.exe', 10, { ip: '127.0.0.1', port: 40320 })));
    const before = h.server().length;
    h.push('s2c', flap(2, 103, fileOfferInAt(0, '461758769', 'tool.exe', 10, { ip: '127.0.0.1', port: 40321, requestNumber: 2 })));
    expect(h.ofKind('file').map((e) => [e.draft.file?.name, e.verdict.action])).toEqual([['tool.exe', 'block']]);
    expect(oscarModule.expectedConnection?.('127.0.0.1', 40321)?.offer).toMatchObject({ action: 'block', rule: 'no-exe' });
    // A cancel went to the server for alice (04/06 channel 2 rendezvous type 1).
    expect(frames(h.server().subarray(before)).filter((f) => f.channel === 2 && snacId(f.payload) === '04/06' && f.payload.readUInt16BE(18) === 2)).toHaveLength(1);
    // alice never sees the reverse proposal: what she got is only the gateway's cancel of her own offer (04/07 rendezvous type 1).
    expect(frames(h.client()).filter((f) => f.channel === 2 && snacId(f.payload) === '04/07').map((f) => f.payload.readUInt16BE(f.payload.length - 26))).toEqual([1]);
  });
});
