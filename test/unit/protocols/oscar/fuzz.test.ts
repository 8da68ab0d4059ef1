// Random bytes, truncations and mutations of valid frames: the session must
// never throw, must hold at most one unit in memory, and - under a policy
// that allows everything - must pass every byte through unchanged.
import fc from 'fast-check';
import { oscarModule } from '../../../../src/protocols/oscar';
import type { Side } from '../../../../src/protocols/types';
import { HELLO, fileOfferIn, fileOfferOut, flap, imIn, imOut, loginCh1, selfInfo } from './frames';
import { Harness } from './harness';

const ALLOW_ALL = { default: 'allow', rules: [] };
const MAX_UNIT = 4096;

const valid: Array<[Side, Buffer]> = [
  ['s2c', flap(1, 1, HELLO)],
  ['c2s', flap(1, 7, loginCh1('alice'))],
  ['s2c', flap(2, 2, selfInfo(1, '157901844'))],
  ['c2s', flap(2, 8, imOut(3, 'bob', 'project falcon 4111 1111 1111 1111'))],
  ['s2c', flap(2, 3, imIn(0, 'bob', 'utf16 4111111111111111', 2))],
  ['c2s', flap(2, 9, fileOfferOut(4, 'bob', 'x.exe', 5))],
  ['s2c', flap(2, 4, fileOfferIn(0, 'bob', 'y.exe', 6))],
  ['c2s', flap(5, 10, Buffer.alloc(0))],
];

const side = fc.constantFrom<Side>('c2s', 's2c');
const heldOf = (h: Harness): number => (h.session as unknown as { heldBytes: number }).heldBytes;

function mutate(b: Buffer, edits: Array<[number, number]>, cut: number): Buffer {
  const m = Buffer.from(b);
  for (const [at, v] of edits) if (m.length > 0) m[at % m.length] = v;
  return m.subarray(0, Math.max(0, m.length - (cut % (m.length + 1))));
}

describe('OSCAR fuzz', () => {
  it('random chunks never throw, stay bounded and pass unchanged when allowed', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(side, fc.uint8Array({ maxLength: 300 })), { maxLength: 30 }), (chunks) => {
        const h = new Harness(oscarModule, ALLOW_ALL, { maxUnitBytes: MAX_UNIT });
        const sent: Record<Side, Buffer[]> = { c2s: [], s2c: [] };
        for (const [s, c] of chunks) {
          const b = Buffer.from(c);
          sent[s].push(b);
          h.push(s, b);
          expect(heldOf(h)).toBeLessThanOrEqual(2 * MAX_UNIT);
        }
        h.session.end('c2s');
        h.session.end('s2c');
        if (h.closed === undefined) {
          expect(h.server().equals(Buffer.concat(sent.c2s))).toBe(true);
          expect(h.client().equals(Buffer.concat(sent.s2c))).toBe(true);
        } else expect(h.closed).toMatch(/limit/);
      }),
      { numRuns: 300 },
    );
  });

  it('mutated and truncated valid frames never throw under the test policy', () => {
    const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.array(edit, { maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 64 })), {
          maxLength: 12,
        }),
        (ops) => {
          const h = new Harness(oscarModule, undefined, { maxUnitBytes: MAX_UNIT });
          for (const [i, edits, cut, chunk] of ops) {
            const [s, frame] = valid[i] as [Side, Buffer];
            h.pushSplit(s, mutate(frame, edits, edits.length > 0 ? cut : 0), chunk);
            expect(heldOf(h)).toBeLessThanOrEqual(2 * MAX_UNIT);
          }
          h.session.end('c2s');
          h.session.end('s2c');
        },
      ),
      { numRuns: 300 },
    );
  });
});
