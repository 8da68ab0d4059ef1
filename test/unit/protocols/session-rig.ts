// Drives a dissector session the way the relay does, with the real policy
// engine deciding, and records what would reach each socket. The protocol
// harnesses (irc, msnp, oscar/ymsg) add their own conveniences on top.
import { newEventId } from '../../../src/events/id';
import type { ImEvent, Verdict } from '../../../src/events/types';
import { parsePolicy } from '../../../src/policy/load';
import { PolicyStore } from '../../../src/policy/store';
import type { DissectorSession, EventDraft, InspectOptions, ProtocolModule, Side } from '../../../src/protocols/types';

export interface Recorded {
  draft: EventDraft;
  verdict: Verdict;
}

export class SessionRig {
  readonly events: Recorded[] = [];
  /** Everything written on the server socket / client socket, in order (forwarded and injected). */
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  readonly injected: Array<{ to: Side; data: Buffer }> = [];
  closed: string | undefined;
  readonly session: DissectorSession;
  readonly logs: Array<{ obj: object; msg?: string }> = [];

  constructor(mod: ProtocolModule, policyDoc: object, options: Partial<InspectOptions>, port: number) {
    const store = new PolicyStore(parsePolicy(policyDoc, null));
    const log = (obj: object, msg?: string): void => {
      this.logs.push(msg === undefined ? { obj } : { obj, msg });
    };
    this.session = mod.create(
      {
        conn: 'test-conn',
        destination: { host: '127.0.0.1', port },
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
          this.injected.push({ to, data: Buffer.from(data) });
          (to === 'c2s' ? this.toClient : this.toServer).push(Buffer.from(data));
        },
        close: (reason: string) => {
          if (this.closed === undefined) this.closed = reason;
        },
      },
    );
  }

  /** What the gateway itself said to the client (NOTICEs, NAKs, errors). */
  get injectedToClient(): Buffer[] {
    return this.injected.filter((i) => i.to === 'c2s').map((i) => i.data);
  }

  ofKind(kind: string): Recorded[] {
    return this.events.filter((e) => e.draft.kind === kind);
  }
}

/** For the text protocols (IRC, MSNP): push strings per side, read what arrived as text. */
export class TextSessionRig extends SessionRig {
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
}
