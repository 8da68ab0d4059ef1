// Holds the live policy and its ISTag as one immutable snapshot, so a reload
// swaps both at once and an in-flight evaluation never sees a mix.
import type { ImEvent, Verdict } from '../events/types';
import { computeIstag } from './istag';
import type { Policy } from './load';

export interface PolicySnapshot {
  readonly policy: Policy;
  readonly istag: string;
}

export class PolicyStore {
  private snap: PolicySnapshot;
  private scanners: readonly string[] = [];

  constructor(policy: Policy) {
    this.snap = { policy, istag: computeIstag(policy.hash, this.scanners) };
  }

  get current(): PolicySnapshot {
    return this.snap;
  }

  get istag(): string {
    return this.snap.istag;
  }

  evaluate(ev: ImEvent): Verdict {
    return this.snap.policy.compiled.evaluate(ev);
  }

  /**
   * Masks what the verdict's rule matched. Looked up by rule id in the live
   * policy: after a reload that removed the rule, the whole text is masked.
   */
  redact(text: string, verdict: Verdict): string {
    return this.snap.policy.compiled.redact(text, verdict);
  }

  replace(policy: Policy): PolicySnapshot {
    this.snap = { policy, istag: computeIstag(policy.hash, this.scanners) };
    return this.snap;
  }

  /** Hook for scanners (later): their signature versions feed the ISTag. */
  setScannerVersions(versions: readonly string[]): void {
    this.scanners = [...versions];
    this.snap = { policy: this.snap.policy, istag: computeIstag(this.snap.policy.hash, this.scanners) };
  }
}
