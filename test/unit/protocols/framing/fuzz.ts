// The fuzz properties every header-framed binary dissector (OSCAR, YMSG)
// must keep: random chunks and mutated or truncated valid units never
// throw, never hold more than one unit per side, and - under a policy that
// allows everything - pass every byte through unchanged unless the
// protocol's own framing error closed the connection.
import fc from 'fast-check';
import type { ProtocolModule, Side } from '../../../../src/protocols/types';
import { Harness } from '../oscar/harness';

const ALLOW_ALL = { default: 'allow', rules: [] };
const side = fc.constantFrom<Side>('c2s', 's2c');
const heldOf = (h: Harness): number => (h.session as unknown as { heldBytes: number }).heldBytes;

export interface FuzzTarget {
  module: ProtocolModule;
  maxUnit: number;
  numRuns: number;
}

export interface RandomChunks {
  maxChunkBytes: number;
  maxChunks: number;
  /** When set, half the runs start each chunk with it, so framing gets past the header check. */
  prefix?: Buffer;
  /** The only close reasons allowed (the protocol's framing errors). */
  closeReason: RegExp;
}

/** Random chunks never throw, stay bounded, and pass unchanged until a framing error. */
export function assertRandomChunks(t: FuzzTarget, o: RandomChunks): void {
  fc.assert(
    fc.property(fc.array(fc.tuple(side, fc.uint8Array({ maxLength: o.maxChunkBytes })), { maxLength: o.maxChunks }), fc.boolean(), (chunks, usePrefix) => {
      const h = new Harness(t.module, ALLOW_ALL, { maxUnitBytes: t.maxUnit });
      const sent: Record<Side, Buffer[]> = { c2s: [], s2c: [] };
      for (const [s, c] of chunks) {
        const b = o.prefix && usePrefix ? Buffer.concat([o.prefix, Buffer.from(c)]) : Buffer.from(c);
        sent[s].push(b);
        h.push(s, b);
        expect(heldOf(h)).toBeLessThanOrEqual(2 * t.maxUnit);
      }
      h.session.end('c2s');
      h.session.end('s2c');
      if (h.closed === undefined) {
        expect(h.server().equals(Buffer.concat(sent.c2s))).toBe(true);
        expect(h.client().equals(Buffer.concat(sent.s2c))).toBe(true);
      } else expect(h.closed).toMatch(o.closeReason);
    }),
    { numRuns: t.numRuns },
  );
}

export interface MutatedUnits {
  valid: ReadonlyArray<readonly [Side, Buffer]>;
  maxOps: number;
  maxChunkBytes: number;
  /** Applies byte edits [position, value] and cuts the tail (only when there are edits). */
  mutate(unit: Buffer, edits: ReadonlyArray<readonly [number, number]>, cut: number): Buffer;
}

/** Mutated and truncated valid units, pushed in small pieces under the test policy, never throw and stay bounded. */
export function assertMutatedUnits(t: FuzzTarget, o: MutatedUnits): void {
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: o.valid.length - 1 }), fc.array(edit, { maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: o.maxChunkBytes })), {
        maxLength: o.maxOps,
      }),
      (ops) => {
        const h = new Harness(t.module, undefined, { maxUnitBytes: t.maxUnit });
        for (const [i, edits, cut, chunk] of ops) {
          const [s, unit] = o.valid[i] as readonly [Side, Buffer];
          h.pushSplit(s, o.mutate(unit, edits, cut), chunk);
          expect(heldOf(h)).toBeLessThanOrEqual(2 * t.maxUnit);
        }
        h.session.end('c2s');
        h.session.end('s2c');
      },
    ),
    { numRuns: t.numRuns },
  );
}
