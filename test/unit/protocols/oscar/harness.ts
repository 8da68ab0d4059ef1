// Drives a dissector session the way the relay does, with the real policy
// engine deciding, and records what would reach each socket. Shared by the
// OSCAR and YMSG tests.
import { newEventId } from '../../../../src/events/id';
import type { ImEvent, Verdict } from '../../../../src/events/types';
import { parsePolicy } from '../../../../src/policy/load';
import { PolicyStore } from '../../../../src/policy/store';
import type { DissectorSession, EventDraft, InspectOptions, ProtocolModule, Side } from '../../../../src/protocols/types';

export const TEST_POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-falcon', when: { kind: ['message'], text_matches: ['(?i)project\\s+falcon'] }, then: 'block' },
    { id: 'mask-cards', when: { kind: ['message'], text_matches: ['\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b'] }, then: 'redact' },
    { id: 'no-exe', when: { kind: ['file'], file_name: ['*.exe'] }, then: 'block' },
    { id: 'banned-account', when: { account: ['mallory', '666666'] }, then: 'block' },
  ],
};

export interface Recorded {
  draft: EventDraft;
  verdict: Verdict;
}

export class Harness {
  readonly events: Recorded[] = [];
  /** Everything written on the server socket / client socket, in order. */
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  readonly injected: Array<{ to: Side; data: Buffer }> = [];
  closed: string | undefined;
  readonly session: DissectorSession;
  readonly logs: Array<{ obj: object; msg?: string }> = [];

  constructor(mod: ProtocolModule, policyDoc: object = TEST_POLICY, options: Partial<InspectOptions> = {}) {
    const store = new PolicyStore(parsePolicy(policyDoc, null));
    const log = (obj: object, msg?: string): void => {
      this.logs.push(msg === undefined ? { obj } : { obj, msg });
    };
    this.session = mod.create(
      {
        conn: 'test-conn',
        destination: { host: '127.0.0.1', port: 5190 },
        decide: (draft) => {
          const ev: ImEvent = {
            id: newEventId(),
            time: Date.now(),
            conn: 'test-conn',
            door: 'socks5',
            groups: [],
            kind: draft.kind,
            protocol: draft.protocol,
            direction: draft.side === 'c2s' ? 'out' : 'in',
          };
          if (draft.account !== undefined) ev.account = draft.account;
          if (draft.peer !== undefined) ev.peer = draft.peer;
          if (draft.text !== undefined) ev.text = draft.text;
          if (draft.file !== undefined) ev.file = draft.file;
          const verdict = store.evaluate(ev);
          this.events.push({ draft, verdict });
          return verdict;
        },
        redact: (text, verdict) => store.redact(text, verdict),
        options: { starttls: 'pass', maxUnitBytes: 65536 + 6, ...options },
        log: { debug: log, info: log, warn: log, error: log },
      },
      {
        forward: (from: Side, data: Buffer) => {
          (from === 'c2s' ? this.toServer : this.toClient).push(Buffer.from(data));
        },
        inject: (to: Side, data: Buffer) => {
          this.injected.push({ to, data: Buffer.from(data) });
          (to === 'c2s' ? this.toClient : this.toServer).push(Buffer.from(data));
        },
        close: (reason: string) => {
          if (this.closed === undefined) this.closed = reason;
        },
      },
    );
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
