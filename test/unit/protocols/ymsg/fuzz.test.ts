// Random bytes, truncations and mutations of valid packets: never throws,
// holds at most one packet, and passes allowed bytes through unchanged.
import { ymsgModule } from '../../../../src/protocols/ymsg';
import type { Side } from '../../../../src/protocols/types';
import { assertMutatedUnits, assertRandomChunks } from '../framing/fuzz';
import { authChallenge, authReq, authResp, fileOffer, imIn, imOut } from './frames';

const target = { module: ymsgModule, maxUnit: 2048, numRuns: 300 };

const valid: Array<[Side, Buffer]> = [
  ['c2s', authReq('alice_y')],
  ['s2c', authChallenge('alice_y')],
  ['c2s', authResp('alice_y')],
  ['c2s', imOut('alice_y', 'bob_y', 'project falcon 4111 1111 1111 1111')],
  ['s2c', imIn('alice_y', 'bob_y', 'card 4111111111111111')],
  ['c2s', fileOffer('alice_y', 'bob_y', 'a.exe', 5)],
];

/** Keeps the magic so the payload parser is reached, then cuts the tail. */
function mutate(pkt: Buffer, edits: ReadonlyArray<readonly [number, number]>, cut: number): Buffer {
  const m = Buffer.from(pkt);
  for (const [at, v] of edits) m[4 + (at % (m.length - 4))] = v;
  return m.subarray(0, m.length - (edits.length > 0 ? cut % m.length : 0));
}

describe('YMSG fuzz', () => {
  it('random chunks never throw, stay bounded, and pass unchanged until a framing error', () => {
    assertRandomChunks(target, { maxChunkBytes: 200, maxChunks: 20, prefix: Buffer.from('YMSG'), closeReason: /magic|limit/ });
  });

  it('mutated and truncated valid packets never throw under the test policy', () => {
    assertMutatedUnits(target, { valid, maxOps: 10, maxChunkBytes: 40, mutate });
  });
});
