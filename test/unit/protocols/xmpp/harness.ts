// Drives an XMPP session the way the relay does, with the real policy engine,
// and records what each end would receive.
import YAML from 'yaml';
import { parsePolicy } from '../../../../src/policy';
import type { Verdict } from '../../../../src/events/types';
import type { EventDraft, InspectOptions, SessionContext, Side } from '../../../../src/protocols/types';
import { xmppModule } from '../../../../src/protocols/xmpp';

export const POLICY = `
default: allow
rules:
  - id: no-falcon
    when: { kind: [message], text_matches: ["(?i)project\\\\s+falcon"] }
    then: block
  - id: mask-cards
    when: { kind: [message], text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b"] }
    then: redact
  - id: banned-account
    when: { account: ["mallory@imgate.test"] }
    then: block
  - id: no-files
    when: { kind: [file] }
    then: block
`;

export interface Recorded {
  draft: EventDraft;
  verdict: Verdict;
}

export class Harness {
  /** Bytes that reached the server / the client. */
  toServer: Buffer[] = [];
  toClient: Buffer[] = [];
  events: Recorded[] = [];
  closed: string | null = null;
  logs: string[] = [];
  readonly session;

  constructor(opts: Partial<InspectOptions> = {}, policy = POLICY) {
    const compiled = parsePolicy(YAML.parse(policy), null).compiled;
    const ctx: SessionContext = {
      conn: 't1',
      destination: { host: '127.0.0.1', port: 5222 },
      options: { starttls: 'pass', maxUnitBytes: 65536, ...opts },
      decide: (draft) => {
        const ev = { id: 'e', time: Date.now(), conn: 't1', door: 'socks5' as const, groups: [], kind: draft.kind, protocol: draft.protocol, account: draft.account, peer: draft.peer, text: draft.text, file: draft.file, direction: draft.side === 'c2s' ? ('out' as const) : ('in' as const) };
        const verdict = compiled.evaluate(ev);
        this.events.push({ draft, verdict });
        return verdict;
      },
      redact: (text, v) => compiled.redact(text, v),
      log: {
        debug: (o, m) => this.logs.push(`${m} ${JSON.stringify(o)}`),
        info: (o, m) => this.logs.push(`${m} ${JSON.stringify(o)}`),
        warn: (o, m) => this.logs.push(`${m} ${JSON.stringify(o)}`),
        error: (o, m) => this.logs.push(`${m} ${JSON.stringify(o)}`),
      },
    };
    this.session = xmppModule.create(ctx, {
      forward: (from: Side, data: Buffer) => (from === 'c2s' ? this.toServer : this.toClient).push(Buffer.from(data)),
      inject: (to: Side, data: Buffer) => (to === 'c2s' ? this.toClient : this.toServer).push(Buffer.from(data)),
      close: (reason: string) => {
        this.closed = reason;
      },
    });
  }

  client(s: string | Buffer): this {
    this.session.push('c2s', typeof s === 'string' ? Buffer.from(s) : s);
    return this;
  }

  server(s: string | Buffer): this {
    this.session.push('s2c', typeof s === 'string' ? Buffer.from(s) : s);
    return this;
  }

  serverGot(): string {
    return Buffer.concat(this.toServer).toString('utf8');
  }

  clientGot(): string {
    return Buffer.concat(this.toClient).toString('utf8');
  }

  reset(): void {
    this.toServer = [];
    this.toClient = [];
  }
}

export const CLIENT_OPEN = `<?xml version='1.0'?><stream:stream to='imgate.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
export const SERVER_OPEN = `<?xml version='1.0'?><stream:stream from='imgate.test' id='s1' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
export const FEATURES = `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`;

export function plainAuth(user: string, pw: string): string {
  return `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${pw}`).toString('base64')}</auth>`;
}

/** Opens, authenticates alice with PLAIN and binds alice@imgate.test/t. */
export function loggedIn(h: Harness, user = 'alice'): Harness {
  h.client(CLIENT_OPEN).server(SERVER_OPEN + FEATURES);
  h.client(plainAuth(user, 'pw')).server(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
  h.client(CLIENT_OPEN).server(SERVER_OPEN + `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`);
  h.client(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>t</resource></bind></iq>`);
  h.server(`<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>${user}@imgate.test/t</jid></bind></iq>`);
  h.reset();
  return h;
}
