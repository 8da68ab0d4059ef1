// OFT2 sessions that carry several files (prompt totfiles/filesleft, one
// prompt/ack/data/done cycle per file). SYNTHETIC like oft.test.ts: no
// capture holds an OFT2 transfer; the layout is libfaim ft.c / libpurple
// peer_oft.c, built by frames.ts independently of the dissector.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { MAX_OFT_HEADER, MAX_PROXY_FRAME, OftPayload } from '../../../../src/protocols/oscar';
import { oftHeader, proxyFrame, proxyJoin } from './frames';

const PROMPT = 0x0101;
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** What the sender writes for file i of n: its prompt (filesleft n - i) and its bytes. */
function fileOf(f: { name: string; data: Buffer }, i: number, n: number): Buffer {
  return Buffer.concat([oftHeader(PROMPT, { size: f.data.length, name: f.name, totfiles: n, filesleft: n - i }), f.data]);
}

/**
 * Drives a payload as the held relay does: push chunks; when a file ends
 * with moreFiles, what push() left of the chunk is pushed again after
 * nextFile(). Returns each file's declared name and extracted bytes.
 */
function extractAll(p: OftPayload, stream: Buffer, sizes: number[]): Array<{ name?: string; size?: number; bytes: Buffer; state: string }> {
  const files: Array<{ name?: string; size?: number; bytes: Buffer; state: string }> = [];
  let cur: Buffer[] = [];
  const close = (): void => {
    files.push({ ...p.declared, bytes: Buffer.concat(cur), state: p.state });
    cur = [];
  };
  let i = 0;
  for (let k = 0; i < stream.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length] as number);
    let chunk = stream.subarray(i, i + n);
    i += n;
    for (;;) {
      cur.push(...p.push(chunk));
      if (p.state === 'done' && p.moreFiles) {
        const rest = p.leftover > 0 ? chunk.subarray(chunk.length - p.leftover) : Buffer.alloc(0);
        close();
        expect(p.nextFile()).toBe(true);
        if (rest.length === 0) break;
        chunk = rest;
        continue;
      }
      break;
    }
  }
  if (p.promptsRead > files.length) close();
  return files;
}

describe('OFT2 multi-file sessions', () => {
  const a = { name: 'a.txt', data: crypto.randomBytes(5000) };
  const b = { name: 'photo.jpg', data: crypto.randomBytes(12_345) };
  const c = { name: 'OFT2-starts.bin', data: Buffer.concat([Buffer.from('OFT2'), crypto.randomBytes(40)]) };

  it('three files in one stream: each one its name, size and exact bytes; the last one ends the session', () => {
    const stream = Buffer.concat([fileOf(a, 0, 3), fileOf(b, 1, 3), fileOf(c, 2, 3)]);
    for (const sizes of [[stream.length], [1], [7], [256], [4999, 3, 300]]) {
      const p = new OftPayload();
      const files = extractAll(p, stream, sizes);
      expect(files.map((f) => [f.name, f.size, sha(f.bytes), f.state])).toEqual([
        ['a.txt', 5000, sha(a.data), 'done'],
        ['photo.jpg', 12_345, sha(b.data), 'done'],
        ['OFT2-starts.bin', 44, sha(c.data), 'done'],
      ]);
      expect(p.moreFiles).toBe(false);
      expect(p.nextFile()).toBe(false);
      expect(p.promptsRead).toBe(3);
    }
  });

  it('push() stops at the end of a file: leftover is the next prompt, untouched until nextFile()', () => {
    const second = fileOf(b, 1, 2);
    const p = new OftPayload();
    const got = p.push(Buffer.concat([fileOf(a, 0, 2), second]));
    expect(sha(Buffer.concat(got))).toBe(sha(a.data));
    expect(p.state).toBe('done');
    expect(p.moreFiles).toBe(true);
    expect(p.leftover).toBe(second.length);
    expect(p.declared).toEqual({ name: 'a.txt', size: 5000 });
    // Without nextFile() the rest stays trailer (the single-file contract).
    expect(p.push(second)).toEqual([]);
    expect(p.nextFile()).toBe(true);
    expect(p.state).toBe('header');
    expect(sha(Buffer.concat(p.push(second)))).toBe(sha(b.data));
    expect(p.declared).toEqual({ name: 'photo.jpg', size: 12_345 });
    expect(p.moreFiles).toBe(false);
  });

  it('a single-file prompt (filesleft 1) never announces more; a broken second prompt fails with its reason', () => {
    const one = new OftPayload();
    one.push(fileOf(a, 0, 1));
    expect([one.state, one.moreFiles, one.nextFile()]).toEqual(['done', false, false]);

    const p = new OftPayload();
    p.push(fileOf(a, 0, 2));
    expect(p.nextFile()).toBe(true);
    const bad = oftHeader(PROMPT, { size: 10, name: 'x' });
    bad.writeUInt16BE(MAX_OFT_HEADER + 1, 4);
    expect(p.push(bad)).toEqual([]);
    expect(p.state).toBe('failed');
    expect(p.failure).toMatch(/header length/);
  });

  it('fuzz: garbage and mutated multi-file streams never throw, stay bounded, and never yield more than declared', () => {
    const base = Buffer.concat([fileOf({ name: 'x', data: crypto.randomBytes(300) }, 0, 3), fileOf({ name: 'y', data: crypto.randomBytes(200) }, 1, 3), fileOf({ name: 'z', data: crypto.randomBytes(10) }, 2, 3)]);
    const stream = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }).map((muts) => {
        const m = Buffer.from(base);
        for (const [at, v] of muts) m[at] = v;
        return m;
      }),
    );
    fc.assert(
      fc.property(stream, fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 10 }), (s, sizes) => {
        const p = new OftPayload();
        const files = extractAll(p, s, sizes);
        // One file per prompt read, at most one prompt per header-sized stretch of input.
        if (files.length !== p.promptsRead || files.length > Math.ceil(s.length / 192)) return false;
        return files.every((f) => f.bytes.length <= (f.size ?? 0) && (f.state !== 'done' || f.bytes.length === f.size));
      }),
      { numRuns: 400 },
    );
  });
});

describe('OFT2 through the AOL rendezvous proxy (proxy frames before the OFT2 data)', () => {
  const file = crypto.randomBytes(9000);
  const oft = Buffer.concat([oftHeader(PROMPT, { size: file.length, name: 'via-proxy.zip' }), file]);

  it('the proxy\'s READY (and a JOIN, from the joining sender) are skipped: the file is found after them, at any split', () => {
    const preambles: Array<[Buffer, number]> = [
      [proxyFrame(5), 1],
      [proxyJoin('alice', 0x1234), 1],
      [Buffer.concat([proxyFrame(3, Buffer.from([0x12, 0x34, 127, 0, 0, 1])), proxyFrame(5)]), 2],
    ];
    for (const [pre, count] of preambles) {
      const stream = Buffer.concat([pre, oft]);
      for (const sizes of [[stream.length], [1], [5, 11, 13]]) {
        const p = new OftPayload();
        const files = extractAll(p, stream, sizes);
        expect(files.map((f) => [f.name, sha(f.bytes), f.state])).toEqual([['via-proxy.zip', sha(file), 'done']]);
        expect(p.proxyFrames).toBe(count);
      }
    }
  });

  it('a proxy error frame fails with the proxy\'s meaning; an oversized one fails before it is read; after a prompt, proxy bytes are no header', () => {
    const err = new OftPayload();
    err.push(Buffer.concat([proxyFrame(1, Buffer.from([0, 0x1a])), oft]));
    expect([err.state, err.failure]).toEqual(['failed', 'rendezvous proxy error frame: the proxy refused the session']);

    const big = new OftPayload();
    const huge = proxyFrame(5);
    huge.writeUInt16BE(MAX_PROXY_FRAME, 0);
    big.push(huge.subarray(0, 6));
    expect(big.state).toBe('failed');
    expect(big.failure).toMatch(/proxy frame length/);

    const late = new OftPayload();
    late.push(fileOf({ name: 'a', data: Buffer.from('abc') }, 0, 2));
    expect(late.nextFile()).toBe(true);
    late.push(proxyFrame(5));
    expect([late.state, late.failure]).toEqual(['failed', 'not an OFT2 header']);
  });
});
