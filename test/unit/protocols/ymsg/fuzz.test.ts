// Random bytes, truncations and mutations of valid packets: never throws,
// holds at most one packet, and passes allowed bytes through unchanged.
import fc from 'fast-check';
import { ymsgModule } from '../../../../src/protocols/ymsg';
import type { Side } from '../../../../src/protocols/types';
import { Harness } from '../oscar/harness';
import { authChallenge, authReq, authResp, fileOffer, imIn, imOut } from './frames';

const ALLOW_ALL = { default: 'allow', rules: [] };
const MAX_UNIT = 2048;
const side = fc.constantFrom<Side>('c2s', 's2c');
const heldOf = (h: Harness): number => (h.session as unknown as { heldBytes: number }).heldBytes;

const valid: Array<[Side, Buffer]> = [
  ['c2s', authReq('alice_y')],
  ['s2c', authChallenge('alice_y')],
  ['c2s', authResp('alice_y')],
  ['c2s', imOut('alice_y', 'bob_y', 'project falcon 4111 1111 1111 1111')],
  ['s2c', imIn('alice_y', 'bob_y', 'card 4111111111111111')],
  ['c2s', fileOffer('alice_y', 'bob_y', 'a.exe', 5)],
];

describe('YMSG fuzz', () => {
  it('random chunks never throw, stay bounded, and pass unchanged until a framing error', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(side, fc.uint8Array({ maxLength: 200 })), { maxLength: 20 }), fc.boolean(), (chunks, magic) => {
        const h = new Harness(ymsgModule, ALLOW_ALL, { maxUnitBytes: MAX_UNIT });
        const sent: Record<Side, Buffer[]> = { c2s: [], s2c: [] };
        for (const [s, c] of chunks) {
          // Half the runs start each chunk with the magic so framing gets past the header.
          const b = magic ? Buffer.concat([Buffer.from('YMSG'), Buffer.from(c)]) : Buffer.from(c);
          sent[s].push(b);
          h.push(s, b);
          expect(heldOf(h)).toBeLessThanOrEqual(2 * MAX_UNIT);
        }
        h.session.end('c2s');
        h.session.end('s2c');
        if (h.closed === undefined) {
          expect(h.server().equals(Buffer.concat(sent.c2s))).toBe(true);
          expect(h.client().equals(Buffer.concat(sent.s2c))).toBe(true);
        } else expect(h.closed).toMatch(/magic|limit/);
      }),
      { numRuns: 300 },
    );
  });

  it('mutated and truncated valid packets never throw under the test policy', () => {
    const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.array(edit, { maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 40 })), {
          maxLength: 10,
        }),
        (ops) => {
          const h = new Harness(ymsgModule, undefined, { maxUnitBytes: MAX_UNIT });
          for (const [i, edits, cut, chunk] of ops) {
            const [s, pkt] = valid[i] as [Side, Buffer];
            const m = Buffer.from(pkt);
            // Keep the magic most of the time so the payload parser is reached.
            for (const [at, v] of edits) m[4 + (at % (m.length - 4))] = v;
            h.pushSplit(s, m.subarray(0, m.length - (edits.length > 0 ? cut % m.length : 0)), chunk);
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
