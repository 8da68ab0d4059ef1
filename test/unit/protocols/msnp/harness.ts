// Drives an MsnpSession the way the relay does, with the real policy engine
// deciding, and records what would reach each socket.
import { newEventId } from '../../../../src/events/id';
import type { ImEvent, Verdict } from '../../../../src/events/types';
import { parsePolicy } from '../../../../src/policy/load';
import { PolicyStore } from '../../../../src/policy/store';
import { msnpModule } from '../../../../src/protocols/msnp';
import type { DissectorSession, EventDraft, InspectOptions, Side } from '../../../../src/protocols/types';

export const TEST_POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-falcon', when: { kind: ['message'], text_matches: ['(?i)project\\s+falcon'] }, then: 'block' },
    { id: 'mask-cards', when: { kind: ['message'], text_matches: ['\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b'] }, then: 'redact' },
    { id: 'no-files-on-msn', when: { kind: ['file'], protocol: ['msnp'] }, then: 'block' },
    { id: 'banned-account', when: { account: ['mallory@hotmail.com'] }, then: 'block' },
  ],
};

export interface Recorded {
  draft: EventDraft;
  verdict: Verdict;
}

export class Harness {
  readonly events: Recorded[] = [];
  /** Bytes that reached the server (c2s forwarded) and the client (s2c forwarded + injected to c2s). */
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  readonly injectedToClient: Buffer[] = [];
  closed: string | undefined;
  readonly session: DissectorSession;
  readonly logs: Array<{ obj: object; msg?: string }> = [];

  constructor(policyDoc: object = TEST_POLICY, options: Partial<InspectOptions> = {}) {
    const store = new PolicyStore(parsePolicy(policyDoc, null));
    const log = (obj: object, msg?: string): void => {
      this.logs.push(msg === undefined ? { obj } : { obj, msg });
    };
    this.session = msnpModule.create(
      {
        conn: 'test-conn',
        destination: { host: '127.0.0.1', port: 1863 },
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
        options: { starttls: 'pass', maxUnitBytes: 65536, ...options },
        log: { debug: log, info: log, warn: log, error: log },
      },
      {
        forward: (from: Side, data: Buffer) => {
          (from === 'c2s' ? this.toServer : this.toClient).push(Buffer.from(data));
        },
        inject: (to: Side, data: Buffer) => {
          if (to === 'c2s') {
            this.toClient.push(Buffer.from(data));
            this.injectedToClient.push(Buffer.from(data));
          } else this.toServer.push(Buffer.from(data));
        },
        close: (reason: string) => {
          if (this.closed === undefined) this.closed = reason;
        },
      },
    );
  }

  client(s: string | Buffer): this {
    this.session.push('c2s', typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
    return this;
  }

  server(s: string | Buffer): this {
    this.session.push('s2c', typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
    return this;
  }

  get serverGot(): string {
    return Buffer.concat(this.toServer).toString('latin1');
  }

  get clientGot(): string {
    return Buffer.concat(this.toClient).toString('latin1');
  }

  ofKind(kind: string): Recorded[] {
    return this.events.filter((e) => e.draft.kind === kind);
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
