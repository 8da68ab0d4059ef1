// IRC session harness: the shared SessionRig with the IRC module, the
// test policy and line-oriented helpers.
import { ircModule } from '../../../../src/protocols/irc';
import type { InspectOptions } from '../../../../src/protocols/types';
import { TextSessionRig } from '../session-rig';

export const TEST_POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-falcon', when: { kind: ['message'], text_matches: ['(?i)project\\s+falcon'] }, then: 'block' },
    { id: 'mask-cards', when: { kind: ['message'], text_matches: ['\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b'] }, then: 'redact' },
    { id: 'no-files-on-irc', when: { kind: ['file'], protocol: ['irc'] }, then: 'block' },
    { id: 'banned-account', when: { account: ['mallory'] }, then: 'block' },
  ],
};

export class Harness extends TextSessionRig {
  constructor(policyDoc: object = TEST_POLICY, options: Partial<InspectOptions> = {}) {
    super(ircModule, policyDoc, options, 6667);
  }
}
