// Random bytes, truncations and mutations of valid frames: the session must
// never throw, must hold at most one unit in memory, and - under a policy
// that allows everything - must pass every byte through unchanged.
import { oscarModule } from '../../../../src/protocols/oscar';
import type { Side } from '../../../../src/protocols/types';
import { assertMutatedUnits, assertRandomChunks } from '../framing/fuzz';
import { HELLO, fileOfferIn, fileOfferOut, flap, imIn, imOut, loginCh1, selfInfo } from './frames';

const target = { module: oscarModule, maxUnit: 4096, numRuns: 300 };

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

/** Edits anywhere (FLAP resynchronises), then cuts the tail. */
function mutate(b: Buffer, edits: ReadonlyArray<readonly [number, number]>, cut: number): Buffer {
  const m = Buffer.from(b);
  for (const [at, v] of edits) if (m.length > 0) m[at % m.length] = v;
  const c = edits.length > 0 ? cut : 0;
  return m.subarray(0, Math.max(0, m.length - (c % (m.length + 1))));
}

describe('OSCAR fuzz', () => {
  it('random chunks never throw, stay bounded and pass unchanged when allowed', () => {
    assertRandomChunks(target, { maxChunkBytes: 300, maxChunks: 30, closeReason: /limit/ });
  });

  it('mutated and truncated valid frames never throw under the test policy', () => {
    assertMutatedUnits(target, { valid, maxOps: 12, maxChunkBytes: 64, mutate });
  });
});
