// The shared fixed-header framer with the two real formats: every split of a
// stream yields the same units and the same bytes on the wire; the limit is
// checked before anything is held; bad headers mean what their protocol says.
import { HeaderFramer, type HeaderFormat } from '../../../../src/protocols/framing/header-framer';
import { FLAP_FORMAT } from '../../../../src/protocols/oscar/flap';
import { YMSG_FORMAT } from '../../../../src/protocols/ymsg/framer';
import { flap } from '../oscar/frames';
import { imOut, ymsg } from '../ymsg/frames';

interface Run {
  units: string[];
  out: Buffer;
  failed?: string;
  resyncs: number[];
  maxHeld: number;
}

function run(format: HeaderFormat, chunks: Buffer[], max = 65536, dropFirst = false): Run {
  const r: Run = { units: [], out: Buffer.alloc(0), resyncs: [], maxHeld: 0 };
  const outs: Buffer[] = [];
  const f = new HeaderFramer(format, max, {
    unit: (u) => {
      r.units.push(u.toString('hex'));
      return dropFirst && r.units.length === 1 ? null : undefined;
    },
    forward: (d) => outs.push(Buffer.from(d)),
    fail: (why) => {
      r.failed = why;
    },
    resync: (n) => r.resyncs.push(n),
  });
  for (const c of chunks) {
    f.push(c);
    r.maxHeld = Math.max(r.maxHeld, f.heldBytes);
  }
  f.end();
  r.out = Buffer.concat(outs);
  return r;
}

const splits = (b: Buffer): Buffer[][] => {
  const all: Buffer[][] = [];
  for (let i = 0; i <= b.length; i++) all.push([b.subarray(0, i), b.subarray(i)]);
  all.push([...b].map((x) => Buffer.from([x])));
  return all;
};

describe('HeaderFramer', () => {
  const flapStream = Buffer.concat([flap(1, 1, Buffer.from([0, 0, 0, 1])), flap(2, 2, Buffer.from('hello snac')), flap(5, 3, Buffer.alloc(0))]);
  const ymsgStream = Buffer.concat([imOut('alice_y', 'bob_y', 'hi there'), ymsg(0x01, 0, [[7, 'bob_y']])]);

  it.each([
    ['FLAP', FLAP_FORMAT, flapStream, 3],
    ['YMSG', YMSG_FORMAT, ymsgStream, 2],
  ] as const)('%s: every split gives the same units and passes the bytes unchanged', (_n, format, stream, count) => {
    const whole = run(format, [stream]);
    expect(whole.units).toHaveLength(count);
    expect(whole.out.equals(stream)).toBe(true);
    for (const chunks of splits(stream)) {
      const r = run(format, chunks);
      expect(r.units).toEqual(whole.units);
      expect(r.out.equals(stream)).toBe(true);
      expect(r.failed).toBeUndefined();
    }
  });

  it('a dropped unit is missing from the output at every split, the rest in order', () => {
    const rest = flapStream.subarray(6 + 4);
    for (const chunks of splits(flapStream)) expect(run(FLAP_FORMAT, chunks, 65536, true).out.equals(rest)).toBe(true);
  });

  it('refuses a unit over the limit from its header alone, holding nothing of it', () => {
    const big = flap(2, 1, Buffer.alloc(1000));
    for (const chunks of splits(big.subarray(0, 40))) {
      const r = run(FLAP_FORMAT, chunks, 512);
      expect(r.failed).toBe('FLAP frame of 1006 bytes exceeds the 512-byte limit');
      expect(r.maxHeld).toBeLessThan(6);
      expect(r.units).toEqual([]);
    }
    const y = run(YMSG_FORMAT, [ymsg(0x06, 0, [[14, 'x'.repeat(600)]])], 512);
    expect(y.failed).toMatch(/^YMSG packet of \d+ bytes exceeds the 512-byte limit$/);
  });

  it('YMSG: a wrong magic fails at its first wrong byte, even split', () => {
    for (const chunks of splits(Buffer.from('YMSX0000000000000000'))) {
      const r = run(YMSG_FORMAT, chunks);
      expect(r.failed).toBe('not a YMSG packet (bad magic)');
      expect(r.out.length).toBe(0);
    }
  });

  it('FLAP: skips garbage unchanged and resynchronises on the next plausible header, at every split', () => {
    const frame = flap(2, 9, Buffer.from('after the gap'));
    const stream = Buffer.concat([Buffer.from([0x2a, 0x2a, 0x09, 0x00, 0x41]), frame]);
    for (const chunks of splits(stream)) {
      const r = run(FLAP_FORMAT, chunks);
      expect(r.units).toEqual([frame.toString('hex')]);
      expect(r.out.equals(stream)).toBe(true);
      expect(r.resyncs.length).toBeGreaterThan(0);
    }
  });
});
