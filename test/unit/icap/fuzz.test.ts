// Property tests: random bytes and mutations of valid requests never crash
// the parser or the server; answers are protocol errors or valid responses.
import fc from 'fast-check';
import net from 'node:net';
import { IcapParser } from '../../../icap/parser';
import { chunked, reqmod, respmod, start, type Running } from './helpers';

jest.setTimeout(60000);

const LIMITS = { maxIcapHeaderBytes: 2048, maxHttpHeaderBytes: 2048, maxLineBytes: 512, maxHeaderCount: 20 };
const VALID = [
  'OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n',
  reqmod('/reqmod', 'a=1&b=2'),
  reqmod('/reqmod', null),
  respmod('/respmod', 'hello world body', 'Allow: 204\r\n'),
  `REQMOD icap://h/reqmod ICAP/1.0\r\nHost: h\r\nPreview: 4\r\nEncapsulated: req-hdr=0, req-body=27\r\n\r\nPOST http://h/ HTTP/1.1\r\n\r\n${chunked('abcd', true)}`,
];
const STATUSES = new Set([100, 200, 204, 400, 404, 405, 408, 500, 501, 503, 505]);

/** A valid request with random byte edits (flip, insert, delete, split points). */
const mutated = fc
  .record({
    base: fc.constantFrom(...VALID),
    edits: fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'insert', 'delete'), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
    splits: fc.array(fc.nat(), { maxLength: 5 }),
  })
  .map(({ base, edits, splits }) => {
    const b = [...Buffer.from(base + base, 'latin1')];
    for (const e of edits) {
      const i = e.at % (b.length + 1);
      if (e.kind === 'flip' && i < b.length) b[i] = e.byte;
      else if (e.kind === 'insert') b.splice(i, 0, e.byte);
      else if (e.kind === 'delete' && i < b.length) b.splice(i, 1);
    }
    return { bytes: Buffer.from(b), splits };
  });
const randomBytes = fc.record({ bytes: fc.uint8Array({ maxLength: 4096 }).map((u) => Buffer.from(u)), splits: fc.array(fc.nat(), { maxLength: 5 }) });
const input = fc.oneof(mutated, randomBytes);

function pieces(bytes: Buffer, splits: number[]): Buffer[] {
  const cuts = [...new Set(splits.map((s) => s % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) { out.push(bytes.subarray(prev, c)); prev = c; }
  out.push(bytes.subarray(prev));
  return out.filter((p) => p.length > 0);
}

test('parser: never throws, errors carry ICAP codes, buffering stays within limits', () => {
  fc.assert(
    fc.property(input, ({ bytes, splits }) => {
      const errors: number[] = [];
      let maxBuffered = 0;
      // eslint-disable-next-line prefer-const
      let p: IcapParser;
      p = new IcapParser(LIMITS, {
        onIcapHead: () => true,
        onRequest: () => undefined,
        onBody: () => true,
        onPreviewEnd: () => p.continuePreview(),
        onMessageEnd: () => p.nextMessage(),
        onError: (e) => { errors.push(e.status); },
      });
      for (const piece of pieces(bytes, splits)) {
        p.execute(piece);
        maxBuffered = Math.max(maxBuffered, p.buffered());
      }
      expect(errors.length).toBeLessThanOrEqual(1);
      for (const s of errors) expect([400, 501, 505]).toContain(s);
      // Pending bytes never exceed the largest state budget (+ one input piece when adopted whole).
      expect(maxBuffered).toBeLessThanOrEqual(Math.max(LIMITS.maxIcapHeaderBytes, LIMITS.maxHttpHeaderBytes) + bytes.length);
    }),
    { numRuns: 3000 },
  );
});

describe('server under fuzzed input', () => {
  let s: Running;
  beforeAll(async () => { s = await start({ limits: LIMITS, idleTimeoutMs: 300, transactionTimeoutMs: 300 }); });
  afterAll(async () => { await s.close(); });

  test('every reply is a well-formed ICAP response with a known status', async () => {
    await fc.assert(
      fc.asyncProperty(input, async ({ bytes, splits }) => {
        const reply = await new Promise<Buffer>((resolve) => {
          const parts: Buffer[] = [];
          const sock = net.connect(s.port, '127.0.0.1');
          sock.on('data', (d: Buffer) => parts.push(d));
          sock.on('error', () => undefined);
          sock.on('close', () => resolve(Buffer.concat(parts)));
          sock.on('connect', () => { for (const piece of pieces(bytes, splits)) sock.write(piece); });
          setTimeout(() => sock.destroy(), 600);
        });
        const text = reply.toString('latin1');
        for (const m of text.matchAll(/ICAP\/1\.0 (\d{3}) /g)) expect(STATUSES.has(Number(m[1]))).toBe(true);
        if (text.length > 0) expect(text.startsWith('ICAP/1.0 ')).toBe(true);
      }),
      { numRuns: 40 },
    );
    // Still serving after all that.
    const ok = await new Promise<string>((resolve) => {
      const sock = net.connect(s.port, '127.0.0.1', () => sock.write('OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: h\r\n\r\n'));
      sock.once('data', (d: Buffer) => { resolve(d.toString('latin1')); sock.destroy(); });
    });
    expect(ok.startsWith('ICAP/1.0 200 OK')).toBe(true);
  });
});
