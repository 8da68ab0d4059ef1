// Damaged captures: cut at random offsets, flipped bytes, shuffled packet
// order, and fuzzed bytes. The replayer must not throw, must keep its
// buffers within their caps, and must say what it skipped.
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFormatError, CaptureParser, decodePacket, replayCapture, type CapturePacket, type ReplayResult } from '../../../src/replay';
import { pcapFile, pcapngFile, recorder, tcpFrame } from './helpers/build';

import { CAPTURES } from '../../captures';
const DIR = CAPTURES;
const FILES = ['ndpi-jabber.pcap', 'chrissanders-msnms.pcap', 'zeek-irc-dcc-send.trace', 'ndpi-msnms.pcap', 'ndpi-Oscar.pcap', 'zeek-irc-starttls.pcap', 'arkime-irc-cap-req.pcap'];
const LIMITS = { maxOooBytes: 64 * 1024, maxConnections: 8 };

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'imgate-damaged-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let n = 0;
async function replayBytes(buf: Buffer): Promise<ReplayResult> {
  const f = join(tmp, `d${n++}.bin`);
  writeFileSync(f, buf);
  const rec = recorder();
  return replayCapture(f, { modules: [rec.module], limits: LIMITS });
}

function checkBounded(r: ReplayResult): void {
  // One segment (at most 64 KiB + headers) may sit above the cap before the gap is taken.
  expect(r.stats.peakHeldBytes).toBeLessThanOrEqual(LIMITS.maxOooBytes + 65536);
  expect(r.stats.peakConnections).toBeLessThanOrEqual(LIMITS.maxConnections);
  for (const w of r.warnings) expect(typeof w).toBe('string');
  for (const c of r.connections) expect(c.conn).toMatch(/^tcp-\d+$/);
}

function records(buf: Buffer): CapturePacket[] {
  const out: CapturePacket[] = [];
  const p = new CaptureParser({ packet: (x) => out.push({ ...x, data: Buffer.from(x.data) }), warn: () => {} });
  p.push(buf);
  p.end();
  return out;
}

describe.each(FILES)('%s damaged', (name) => {
  const orig = readFileSync(join(DIR, name));

  it('cut at random offsets: no throw; the complete frames are replayed and the cut is reported with its offset', async () => {
    const recs = records(orig);
    const rand = rng(name.length * 7919);
    for (let i = 0; i < 6; i++) {
      const at = 200 + Math.floor(rand() * (orig.length - 200));
      const r = await replayBytes(orig.subarray(0, at));
      checkBounded(r);
      // Frames whose record lies wholly before the cut (next record's offset, or EOF, <= at).
      const complete = recs.filter((_, k) => (k + 1 < recs.length ? (recs[k + 1] as CapturePacket).offset : orig.length) <= at).length;
      expect(r.stats.frames).toBe(complete);
      if (!recs.some((p) => p.offset === at)) expect(r.warnings.join('\n')).toMatch(/offset \d+: capture truncated inside/);
    }
  });

  it('flipped bytes: no throw, errors name a file offset', async () => {
    const rand = rng(name.length * 104729);
    for (let i = 0; i < 6; i++) {
      const bad = Buffer.from(orig);
      for (let k = 0; k < 20; k++) {
        const at = 256 + Math.floor(rand() * (bad.length - 256));
        bad[at] = (bad[at] as number) ^ (1 + Math.floor(rand() * 255));
      }
      const r = await replayBytes(bad);
      checkBounded(r);
      for (const w of r.warnings.filter((x) => x.includes('stopped reading'))) expect(w).toMatch(/offset \d+: .+; stopped reading after \d+ frames$/);
    }
  });

  it('shuffled packet order: no throw, bounded, every connection still reported', async () => {
    const recs = records(orig);
    const rand = rng(name.length * 31337);
    const shuffled = [...recs];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as CapturePacket, shuffled[i] as CapturePacket];
    }
    const lt = recs[0]!.linkType;
    const r = await replayBytes(pcapFile(lt, shuffled.map((p) => ({ data: p.data, sec: p.sec, frac: Math.floor(p.nsec / 1000) }))));
    checkBounded(r);
    const clean = await replayBytes(pcapFile(lt, recs.map((p) => ({ data: p.data, sec: p.sec, frac: Math.floor(p.nsec / 1000) }))));
    // Same set of endpoint pairs, whatever the order did to orientation.
    const pairs = (x: ReplayResult) => new Set(x.connections.map((c) => [c.client, c.server].sort().join(' ')));
    for (const p of pairs(clean)) expect(pairs(r).has(p)).toBe(true);
  });
});

describe('reader fuzz (fast-check)', () => {
  const frame = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, seq: 1, flags: 'PA', data: 'hi' });
  const seeds = [
    pcapFile(1, [{ data: frame }, { data: frame }]),
    pcapFile(1, [{ data: frame }], { be: true, nanos: true }),
    pcapngFile([{ linkType: 1 }, { linkType: 101, tsresol: 9 }], [{ kind: 'epb', iface: 0, data: frame }, { kind: 'spb', data: frame }, { kind: 'opb', iface: 1, data: frame.subarray(14) }]),
    pcapngFile([{ linkType: 1 }], [{ kind: 'epb', iface: 0, data: frame }], { be: true }),
  ];

  /** Parse in the given chunking; only CaptureFormatError may escape, and every frame must decode without throwing. */
  function parseOrFormatError(buf: Buffer, chunk: number): void {
    const p = new CaptureParser({ packet: (x) => void decodePacket(x), warn: () => {} }, { maxRecordBytes: 1 << 16 });
    try {
      for (let i = 0; i < buf.length; i += chunk) p.push(buf.subarray(i, i + chunk));
      p.end();
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
      expect(err.message).toMatch(/^offset \d+: /);
    }
  }

  it('random mutations of valid files: only CaptureFormatError, any chunking', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
        fc.nat({ max: 400 }),
        fc.integer({ min: 1, max: 64 }),
        (seed, flips, cut, chunk) => {
          const b = Buffer.from(seed.subarray(0, Math.max(4, seed.length - cut)));
          for (const [at, v] of flips) b[at % b.length] = v;
          parseOrFormatError(b, chunk);
        },
      ),
      { numRuns: 400, seed: 42 },
    );
  });

  it('random bytes after a valid magic: only CaptureFormatError', () => {
    fc.assert(
      fc.property(fc.constantFrom('d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', '0a0d0d0a'), fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 97 }), (magic, rest, chunk) => {
        parseOrFormatError(Buffer.concat([Buffer.from(magic, 'hex'), rest]), chunk);
      }),
      { numRuns: 400, seed: 7 },
    );
  });

  it('random TCP traffic through the whole replayer: never throws, stays bounded', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            c: fc.boolean(),
            port: fc.integer({ min: 40000, max: 40003 }),
            seq: fc.integer({ min: 0, max: 4000 }),
            flags: fc.constantFrom('S', 'SA', 'A', 'PA', 'FA', 'R'),
            len: fc.integer({ min: 0, max: 300 }),
          }),
          { maxLength: 60 },
        ),
        async (pkts) => {
          const frames = pkts.map((p) => {
            const ends = p.c ? { src: '10.0.0.1', dst: '10.0.0.2', sport: p.port, dport: 5222 } : { src: '10.0.0.2', dst: '10.0.0.1', sport: 5222, dport: p.port };
            return { data: tcpFrame({ ...ends, seq: p.seq, ack: p.seq, flags: p.flags, data: Buffer.alloc(p.len, 120) }) };
          });
          const r = await replayBytes(pcapFile(1, frames));
          checkBounded(r);
          for (const c of r.connections) expect(c.forwarded.c2s + c.forwarded.s2c).toBe(c.bytes.c2s + c.bytes.s2c);
        },
      ),
      { numRuns: 60, seed: 3 },
    );
  });
});
