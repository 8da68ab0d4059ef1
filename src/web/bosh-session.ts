// BOSH session facts carried across ICAP transactions (see bosh-state.ts):
// - the XMPP domain, from the session-creation request's `to` (joined to its
//   response, which announces the sid, by the URL and the client) or the
//   manager's `from` in that response, or a restart request's `to`;
// - the account, from the SASL login of the same sid (authcid + domain);
// - error stanzas owed to the client: a message cut out of a request is
//   answered with a policy-violation error (the same stanza the tunnel XMPP
//   dissector sends) inside the next response body of the same sid. The
//   blocked request itself still goes to the manager (only the stanza is cut),
//   so BOSH's rid sequence stays intact; Prosody names the sid on every
//   response body, which is what joins the answer to its session.
import { bareJid, blockedText, parseElement, stanzaError } from '../protocols/xmpp';
import { BoshStateTable, DEFAULT_BOSH_LIMITS, type BoshStateLimits } from './bosh-state';
import type { BoshExtraction } from './bosh';
import type { FoundMessage } from './extract';
import { boundedTable, type BoundedTable } from '../util/lru';

/** Where one body came from: the endpoint URL and who sent it (Squid's client and user). */
export interface BoshScope {
  url: string | undefined;
  client: string | undefined;
  user: string | undefined;
}

export interface BoshSplice {
  start: number;
  end: number;
  bytes: Buffer;
}

const MAX_CREATING = 1024;
const CREATING_TTL_MS = 30_000;

export class BoshWebSessions {
  readonly table: BoshStateTable;
  // Session-creation requests waiting for the response that names their sid.
  private readonly creating: BoundedTable<{ domain: string }>;

  constructor(
    limits: BoshStateLimits = DEFAULT_BOSH_LIMITS,
    now: () => number = Date.now,
  ) {
    this.table = new BoshStateTable(limits, now);
    this.creating = boundedTable({ max: MAX_CREATING, ttlMs: CREATING_TTL_MS, refreshOnGet: false, now });
  }

  /**
   * Learns the session facts a body carries and fills the account of its
   * logins (user@domain) and outgoing messages. Returns the session key, or
   * null when the body names no sid (session creation, empty body).
   */
  annotate(isReq: boolean, scope: BoshScope, found: BoshExtraction): string | null {
    const w = found.wrapper;
    if (w === undefined) return null;
    const peerKey = `${scope.url ?? ''}|${scope.client ?? ''}|${scope.user ?? ''}`;
    if (w.sid === undefined) {
      if (isReq && w.to !== undefined && w.to !== '') this.noteCreating(peerKey, w.to);
      return null;
    }
    const key = `${scope.url ?? ''}|${w.sid}`;
    const s = this.table.touch(key);
    if (!isReq) {
      const pending = this.creating.get(peerKey);
      if (pending !== undefined) {
        this.creating.delete(peerKey);
        s.domain ??= pending.domain;
      }
      if (w.from !== undefined && w.from !== '') s.domain ??= w.from;
    } else if (w.to !== undefined && w.to !== '') {
      s.domain ??= w.to;
    }
    for (const m of found.messages) {
      if (m.kind === 'login' && isReq) {
        if (m.account !== undefined && !m.account.includes('@') && s.domain !== undefined) m.account = `${m.account}@${s.domain}`;
        if (m.account !== undefined) s.account = bareJid(m.account);
      } else if (m.kind === 'message' && isReq && m.account === undefined && s.account !== undefined) {
        m.account = s.account;
      }
    }
    return key;
  }

  /** A message stanza was cut out of a request: its sender is owed a policy-violation error. */
  refused(key: string, body: Buffer, m: FoundMessage, rule: string): void {
    if (m.stanza === undefined) return;
    const st = parseElement(body.toString('latin1', m.stanza.start, m.stanza.end));
    const s = this.table.get(key);
    const id = st?.attrs.get('id')?.value;
    const to = st?.attrs.get('to')?.value;
    const err = stanzaError(
      {
        element: 'message',
        ...(id !== undefined ? { id } : {}),
        ...(to !== undefined ? { from: to } : s?.domain !== undefined ? { from: s.domain } : {}),
        ...(s?.account !== undefined ? { to: s.account } : {}),
      },
      'policy-violation',
      'modify',
      blockedText(rule, 'Message'),
    );
    this.table.owe(key, err);
  }

  /** Whether a response of this session must be rewritten to deliver owed stanzas. */
  owes(key: string | null): boolean {
    return key !== null && this.table.owes(key);
  }

  /** The splice that puts the owed stanzas inside this response's <body/> (null: nothing owed). */
  deliver(key: string | null, found: BoshExtraction): BoshSplice | null {
    const w = found.wrapper;
    // A terminating body ends the session: nothing after it is read.
    if (key === null || w === undefined) return null;
    if (w.type === 'terminate') {
      this.table.forget(key);
      return null;
    }
    const owed = this.table.take(key);
    if (owed === null) return null;
    const { at, end, open, close } = w.insert;
    return { start: at, end, bytes: Buffer.concat([Buffer.from(open, 'latin1'), owed, Buffer.from(close, 'latin1')]) };
  }

  private noteCreating(peerKey: string, domain: string): void {
    this.creating.set(peerKey, { domain });
  }
}
