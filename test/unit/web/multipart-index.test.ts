// The streaming multipart indexer must agree with the whole-buffer parser on
// every chunking of the same body (a delimiter or a part head split anywhere).
import fc from 'fast-check';
import { MultipartIndexer } from '../../../src/web/multipart-index';
import { scanMultipart, type Part } from '../../../src/web/multipart';
import { WebBodyError } from '../../../src/web/errors';

function indexInChunks(body: Buffer, boundary: string, cuts: number[]): Part[] | WebBodyError {
  const ix = new MultipartIndexer(boundary, 100);
  let at = 0;
  for (const c of [...new Set(cuts)].filter((x) => x > 0 && x < body.length).sort((a, b) => a - b).concat(body.length)) {
    ix.push(body.subarray(at, c), at);
    at = c;
  }
  return ix.finish();
}

function whole(body: Buffer, boundary: string): Part[] | WebBodyError {
  try {
    return scanMultipart(body, boundary, 100);
  } catch (e) {
    return e as WebBodyError;
  }
}

const B = 'xYz-42';
const sample = Buffer.from(
  `--${B}\r\nContent-Disposition: form-data; name="channel_id"\r\n\r\nch9\r\n` +
    `--${B}\r\nContent-Disposition: form-data; name="files"; filename="report.doc"\r\nContent-Type: application/msword\r\n\r\nhello\r\n-- not a delimiter --${B}x\r\n` +
    `--${B}\r\n\r\nheadless\r\n--${B}\r\nContent-Disposition: form-data; name="empty"; filename="e.bin"\r\n\r\n\r\n--${B}--\r\nepilogue`,
  'latin1',
);

test('parts, names, file names and ranges of a body fed in one piece', () => {
  const parts = indexInChunks(sample, B, []);
  expect(parts).toEqual(whole(sample, B));
  const p = parts as Part[];
  expect(p.map((x) => x.filename)).toEqual([undefined, 'report.doc', undefined, 'e.bin']);
  expect(sample.toString('latin1', p[1]!.start, p[1]!.end)).toBe(`hello\r\n-- not a delimiter --${B}x`);
  expect(p[3]!.end - p[3]!.start).toBe(0);
});

test('every chunking gives the same parts as the whole-buffer parser', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: sample.length }), { maxLength: 12 }), (cuts) => {
      expect(indexInChunks(sample, B, cuts)).toEqual(whole(sample, B));
    }),
    { numRuns: 400 },
  );
});

test('byte-by-byte delivery works', () => {
  const cuts = Array.from({ length: sample.length }, (_, i) => i);
  expect(indexInChunks(sample, B, cuts)).toEqual(whole(sample, B));
});

test('malformed bodies give a multipart error, never a throw', () => {
  for (const bad of ['no boundary at all', `--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated`, `--${B}XX\r\n\r\nx\r\n--${B}--`, `--${B}\r\nno colon line\r\n\r\nx\r\n--${B}--`]) {
    const r = indexInChunks(Buffer.from(bad), B, [3, 7, 20]);
    expect(r).toBeInstanceOf(WebBodyError);
  }
  const huge = Buffer.from(`--${B}\r\nX-Long: ${'a'.repeat(10_000)}\r\n\r\nx\r\n--${B}--`);
  expect(String((indexInChunks(huge, B, [100, 5000]) as WebBodyError).message)).toMatch(/longer than/);
});
