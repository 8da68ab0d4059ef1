// Runs the registered probes over one side's first bytes. Registry order is
// priority order: a later module's 'match' only wins once every earlier
// module has said 'no' (or the head is final, when 'more' counts as 'no').
import type { ProtocolModule, Side } from '../protocols/types';

export type ProbeOutcome = ProtocolModule | 'more' | 'no';

export function runProbes(modules: readonly ProtocolModule[], side: Side, head: Buffer, final: boolean): ProbeOutcome {
  let undecided = false;
  for (const m of modules) {
    let r: string;
    try {
      r = m.probe(side, head);
    } catch {
      // A probe that throws on odd bytes has not recognised them.
      r = 'no';
    }
    if (r === 'match') return undecided && !final ? 'more' : m;
    if (r === 'more') undecided = true;
  }
  return undecided && !final ? 'more' : 'no';
}

/** Hex of the first 16 bytes: the fingerprint logged for unknown protocols. */
export function fingerprint(head: Buffer): string {
  return head.subarray(0, 16).toString('hex');
}
