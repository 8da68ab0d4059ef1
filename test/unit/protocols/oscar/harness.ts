// Binary-protocol session harness for the OSCAR and YMSG tests: the shared
// SessionRig with the test policy and byte-level push/read helpers.
import type { InspectOptions, ProtocolModule, Side } from '../../../../src/protocols/types';
import { SessionRig } from '../session-rig';

export const TEST_POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-falcon', when: { kind: ['message'], text_matches: ['(?i)project\\s+falcon'] }, then: 'block' },
    { id: 'mask-cards', when: { kind: ['message'], text_matches: ['\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b'] }, then: 'redact' },
    { id: 'no-exe', when: { kind: ['file'], file_name: ['*.exe'] }, then: 'block' },
    { id: 'banned-account', when: { account: ['mallory', '666666'] }, then: 'block' },
  ],
};

export class Harness extends SessionRig {
  constructor(mod: ProtocolModule, policyDoc: object = TEST_POLICY, options: Partial<InspectOptions> = {}) {
    // +6: a maximal FLAP payload plus its header is one unit.
    super(mod, policyDoc, { maxUnitBytes: 65536 + 6, ...options }, 5190);
  }

  push(from: Side, data: Buffer): this {
    this.session.push(from, data);
    return this;
  }

  /** Pushes `data` split at every position in `cuts` (exercises the partial-unit paths). */
  pushSplit(from: Side, data: Buffer, size: number): this {
    for (let i = 0; i < data.length; i += size) this.session.push(from, data.subarray(i, i + size));
    return this;
  }

  server(): Buffer {
    return Buffer.concat(this.toServer);
  }

  client(): Buffer {
    return Buffer.concat(this.toClient);
  }
}
