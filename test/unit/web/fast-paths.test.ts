// The per-request fast paths of web IM inspection give the same answers as
// the plain byte walks they replace: long string literals checked 16 bytes
// at a time (a control byte or a non-ASCII byte at any offset and
// alignment), bodies gathered into reused buffers (several chunks, a lying
// length, concurrent reads), and the catalogue's lazily parsed query.
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { parseWebIm, scanJson, WebBodyError } from '../../../src/web';
import { BodyScratch, readBounded } from '../../../src/web/read-body';
import { pathAndQuery } from '../../../src/icap-services/services';
import { parseRequestLine } from '../../../src/icap-services/http-event';
import { contentLength } from '../../../src/web/inspect';

const LIMITS = { maxDepth: 64, maxLeaves: 1000 };

function doc(text: Buffer, pad: number): Buffer {
  // `pad` shifts the literal against 4-byte alignment.
  return Buffer.concat([Buffer.from(`{"k${'x'.repeat(pad)}":"`), text, Buffer.from('"}')]);
}

test('a control byte anywhere in a long literal is refused at its exact offset; any other byte decodes as JSON.parse does', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 299 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0x1f }), (len, at, pad, ctl) => {
      const text = Buffer.alloc(len, 0x61);
      const body = doc(text, pad);
      expect(scanJson(body, LIMITS)[0]!.value).toBe('a'.repeat(len));
      if (len === 0) return;
      const pos = at % len;
      text[pos] = ctl;
      const bad = doc(text, pad);
      const start = bad.indexOf('":"') + 3;
      expect(() => scanJson(bad, LIMITS)).toThrow(new WebBodyError('json', `control character in a string at byte ${start + pos}`));
    }),
    { numRuns: 400 },
  );
});

test('non-ASCII text at any offset (with or without a later control byte) is decoded as UTF-8 or refused like the byte walk', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', ' ', '~'), maxLength: 200 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (s, pad, ctl) => {
      const text = Buffer.from(ctl ? `${s}\u0001z` : s, 'utf8');
      const body = doc(text, pad);
      if (!ctl) {
        expect(scanJson(body, LIMITS)[0]!.value).toBe(s);
        expect(scanJson(body, LIMITS)[0]!.value).toBe((JSON.parse(body.toString('utf8')) as Record<string, string>)[`k${'x'.repeat(pad)}`]);
      } else {
        const at = body.indexOf(0x01);
        expect(() => scanJson(body, LIMITS)).toThrow(new WebBodyError('json', `control character in a string at byte ${at}`));
      }
    }),
    { numRuns: 300 },
  );
});

function stream(chunks: Buffer[]): Readable {
  const r = new Readable({ read() {} });
  for (const c of chunks) r.push(c);
  r.push(null);
  return r;
}

function split(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= buf.length) break;
    out.push(buf.subarray(at, Math.min(buf.length, at + n)));
    at += n;
  }
  if (at < buf.length) out.push(buf.subarray(at));
  return out;
}

test('readBounded returns the exact body whatever the chunking, through a reused buffer when the length is known', async () => {
  const scratch = new BodyScratch(4096, 2);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 5000 }), fc.array(fc.integer({ min: 1, max: 1500 }), { maxLength: 8 }), fc.boolean(), async (data, sizes, known) => {
      const body = Buffer.from(data);
      const r = await readBounded(stream(split(body, sizes)), 10_000, known ? body.length : undefined, scratch);
      expect(r.over).toBe(false);
      if (r.over) return;
      expect(Buffer.compare(r.bytes, body)).toBe(0);
      // A reused buffer only for a known length that fits, in more than one chunk.
      if (r.scratch) {
        expect(known && body.length <= 4096).toBe(true);
        scratch.release(r.bytes);
      }
    }),
    { numRuns: 200 },
  );
});

test('a body longer than its Content-Length comes back whole (the caller reports the mismatch), and the limit still stops the read', async () => {
  const scratch = new BodyScratch(4096, 1);
  const body = Buffer.alloc(3000, 0x41);
  const r = await readBounded(stream(split(body, [1000, 1000, 1000])), 10_000, 1500, scratch);
  expect(r.over === false && r.bytes.length === 3000 && !r.scratch && r.bytes.every((b) => b === 0x41)).toBe(true);
  const over = await readBounded(stream(split(body, [1000, 1000, 1000])), 2500, 3000, scratch);
  expect(over).toEqual({ over: true, seen: 3000 });
});

test('two reads in flight never share a reused buffer', async () => {
  const scratch = new BodyScratch(4096, 4);
  const a = new Readable({ read() {} });
  const b = new Readable({ read() {} });
  const pa = readBounded(a, 10_000, 2000, scratch);
  const pb = readBounded(b, 10_000, 2000, scratch);
  a.push(Buffer.alloc(1000, 0x61));
  b.push(Buffer.alloc(1000, 0x62));
  a.push(Buffer.alloc(1000, 0x61));
  b.push(Buffer.alloc(1000, 0x62));
  a.push(null);
  b.push(null);
  const [ra, rb] = await Promise.all([pa, pb]);
  expect(ra.over === false && ra.bytes.every((x) => x === 0x61)).toBe(true);
  expect(rb.over === false && rb.bytes.every((x) => x === 0x62)).toBe(true);
});

test('the hand-written URL, port and Content-Length readers agree with the RegExps they replace', () => {
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('h', 't', 'p', 's', ':', '/', '?', '#', 'a', '1', '+', '.', '-', '@', '[', ']', 'X') , maxLength: 30 }), (url) => {
      const m = scheme.exec(url);
      const rest = m ? url.slice(m[0].length) : url;
      expect(pathAndQuery(url)).toBe(rest === '' || rest[0] === '?' ? `/${rest}` : rest);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(' ', '\t', '0', '1', '9', 'a', '-', '+', '.'), maxLength: 20 }), (v) => {
      const want = /^\s*\d{1,15}\s*$/.test(v) ? Number(v) : 'bad';
      expect(contentLength({ startLine: '', headers: [['Content-Length', v]], get: () => v })).toBe(want);
    }),
    { numRuns: 1000 },
  );
  const head = (line: string, host?: string) => ({ startLine: line, headers: [], get: (n: string) => (n === 'host' ? host : undefined) });
  expect(parseRequestLine(head('POST http://u@Chat.Example:8080/api?x=1 HTTP/1.1'))).toEqual({ method: 'POST', url: 'http://u@Chat.Example:8080/api?x=1', host: 'chat.example', port: 8080 });
  expect(parseRequestLine(head('GET /p HTTP/1.1', '[::1]:123456'))).toEqual({ method: 'GET', url: 'http://[::1]:123456/p', host: '::1' });
  expect(parseRequestLine(head('CONNECT h:443 HTTP/1.1'))).toEqual({ method: 'CONNECT', url: 'h:443', host: 'h', port: 443 });
});

test('a catalogue match parses its query only when asked, and gives the same values', () => {
  const cat = parseWebIm({ apps: { a: { hosts: ['A.example'], endpoints: [{ paths: ['/r/{room}/send'], text: ['query:t'] }] } } }, null);
  const m = cat.match('request', 'POST', 'A.EXAMPLE', '/r/%C3%A9t%C3%A9/send?t=hi%20there&u=1')!;
  expect(m.captures).toEqual({ room: 'été' });
  expect(m.query.get('t')).toBe('hi there');
  expect(m.query.toString()).toBe('t=hi+there&u=1');
  expect(cat.match('request', 'POST', 'a.example', '/r/x/other')).toBeUndefined();
});
