// MSNP session harness: the shared SessionRig with the MSNP module, the
// test policy and MSG builders.
import { msnpModule } from '../../../../src/protocols/msnp';
import type { InspectOptions } from '../../../../src/protocols/types';
import { TextSessionRig } from '../session-rig';

export const TEST_POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-falcon', when: { kind: ['message'], text_matches: ['(?i)project\\s+falcon'] }, then: 'block' },
    { id: 'mask-cards', when: { kind: ['message'], text_matches: ['\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b'] }, then: 'redact' },
    { id: 'no-files-on-msn', when: { kind: ['file'], protocol: ['msnp'] }, then: 'block' },
    { id: 'banned-account', when: { account: ['mallory@hotmail.com'] }, then: 'block' },
  ],
};

export class Harness extends TextSessionRig {
  constructor(policyDoc: object = TEST_POLICY, options: Partial<InspectOptions> = {}) {
    super(msnpModule, policyDoc, options, 1863);
  }
}

/** `MSG` as the client sends it: `MSG trid ack len` + MIME text/plain. */
export function clientMsg(trid: number, ack: string, text: string): Buffer {
  const payload = Buffer.from(`MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=MS%20Shell%20Dlg; EF=; CO=0; CS=0; PF=0\r\n\r\n${text}`, 'utf8');
  return Buffer.concat([Buffer.from(`MSG ${trid} ${ack} ${payload.length}\r\n`), payload]);
}

/** `MSG` as the switchboard relays it: `MSG passport friendly len`. */
export function serverMsg(from: string, friendly: string, text: string, contentType = 'text/plain; charset=UTF-8'): Buffer {
  const payload = Buffer.from(`MIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n\r\n${text}`, 'utf8');
  return Buffer.concat([Buffer.from(`MSG ${from} ${friendly} ${payload.length}\r\n`), payload]);
}
