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
// - XEP-0198 (bosh-state.ts BoshSmState): once the client enabled stream
//   management, a refused message is replaced by a ping rather than cut, and
//   the error stanza takes the place of the ping's answer in the response,
//   so the server's and the client's stanza counts never part.
import { bareJid, blockedText, escapeXml, parseElement, stanzaError } from '../protocols/xmpp';
import { BoshStateTable, DEFAULT_BOSH_LIMITS, type BoshSessionState, type BoshStateLimits } from './bosh-state';
import type { BoshChild, BoshExtraction } from './bosh';
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
const EMPTY = Buffer.alloc(0);

function pingFor(id: string, domain: string | undefined): Buffer {
  const to = domain !== undefined ? ` to='${escapeXml(domain)}'` : '';
  return Buffer.from(`<iq xmlns='jabber:client' type='get' id='${escapeXml(id)}'${to}><ping xmlns='urn:xmpp:ping'/></iq>`, 'utf8');
}

/** An iq answer to one of our pings (result, or error when the server refused the ping). */
function isAnswer(c: BoshChild): c is BoshChild & { id: string } {
  return c.kind === 'stanza' && c.local === 'iq' && c.id !== undefined && (c.type === 'result' || c.type === 'error');
}
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
    this.noteSm(isReq, s, found.children);
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

  /**
   * What takes the place of a refused message stanza of this session's body
   * (`isReq`: a request). Without XEP-0198: nothing. With it, something each
   * receiver counts: in a request, a ping whose answer becomes the sender's
   * error stanza (refused()); in a response, a bodiless message from the same
   * sender, so the client's count keeps step with the server's.
   */
  cut(key: string, isReq: boolean, body: Buffer, m: FoundMessage, rule: string): Buffer {
    if (isReq) return this.refused(key, body, m, rule);
    const s = this.table.get(key);
    if (s?.sm?.on !== true || m.stanza === undefined) return EMPTY;
    const st = parseElement(body.toString('utf8', m.stanza.start, m.stanza.end));
    const from = st?.attrs.get('from')?.value;
    const to = st?.attrs.get('to')?.value;
    const type = st?.attrs.get('type')?.value;
    let attrs = ` id='imgate-s${++s.sm.seq}'`;
    if (from !== undefined) attrs += ` from='${escapeXml(from)}'`;
    if (to !== undefined) attrs += ` to='${escapeXml(to)}'`;
    if (type !== undefined && type !== 'error') attrs += ` type='${escapeXml(type)}'`;
    return Buffer.from(`<message xmlns='jabber:client'${attrs}/>`, 'utf8');
  }

  /**
   * A message stanza was refused in a request: its sender is owed a
   * policy-violation error. Returns the bytes to put in the stanza's place:
   * nothing, or (XEP-0198 on) a ping whose answer the error replaces.
   */
  refused(key: string, body: Buffer, m: FoundMessage, rule: string): Buffer {
    if (m.stanza === undefined) return EMPTY;
    const st = parseElement(body.toString('utf8', m.stanza.start, m.stanza.end));
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
    if (s?.sm?.on === true) {
      const pid = `imgate-b${++s.sm.seq}`;
      // Too many unanswered: cut without a substitute (the client is then not told, and its count runs one ahead: acks stay valid).
      return this.table.ping(s, pid, err) ? pingFor(pid, s.domain) : EMPTY;
    }
    this.table.owe(key, err);
    return EMPTY;
  }

  /** Whether a response of this session must be rewritten to deliver owed stanzas. */
  owes(key: string | null): boolean {
    return key !== null && this.table.owes(key);
  }

  /**
   * The splice that rewrites this response for the session: answers to our
   * pings replaced by their error stanzas, then owed stanzas put inside the
   * <body/> (null: nothing to do). One splice, since the caller takes one;
   * it never spans a <message> (whose own verdict may cut it): an edit that
   * would is left for later (owed stanzas) or given up (a ping's answer then
   * reaches the client, which ignores it, and counts stay equal).
   */
  deliver(key: string | null, found: BoshExtraction): BoshSplice | null {
    const w = found.wrapper;
    // A terminating body ends the session: nothing after it is read.
    if (key === null || w === undefined) return null;
    if (w.type === 'terminate') {
      this.table.forget(key);
      return null;
    }
    const s = this.table.get(key);
    const children = found.children ?? [];
    const edits: BoshSplice[] = [];
    let lastEdit = -1;
    const pings = s?.sm?.pings;
    if (pings !== undefined && pings.size > 0) {
      for (let i = 0; i < children.length; i++) {
        const c = children[i] as BoshChild;
        if (!isAnswer(c)) continue;
        const err = pings.get(c.id);
        if (err === undefined) continue;
        pings.delete(c.id);
        if (lastEdit >= 0 && messageBetween(children, lastEdit, i)) continue;
        edits.push({ start: c.start, end: c.end, bytes: err.bytes });
        lastEdit = i;
      }
    }
    const { at, end, open, close } = w.insert;
    if (this.table.owes(key) && (lastEdit < 0 || !messageBetween(children, lastEdit, children.length))) {
      const owed = this.table.take(key);
      if (owed !== null) edits.push({ start: at, end, bytes: Buffer.concat([Buffer.from(open, 'latin1'), owed, Buffer.from(close, 'latin1')]) });
    }
    return joined(edits, found.source);
  }

  /** Stream management seen in a body: on at the client's <enable/> or <resume/>, off when the server refuses it. */
  private noteSm(isReq: boolean, s: BoshSessionState, children: BoshChild[] | undefined): void {
    if (children === undefined) return;
    for (const c of children) {
      if (c.kind !== 'sm') continue;
      if (isReq && (c.local === 'enable' || c.local === 'resume')) {
        s.sm ??= { on: true, pings: new Map(), seq: 0 };
        s.sm.on = true;
      } else if (!isReq && c.local === 'failed' && s.sm !== undefined) {
        s.sm.on = false;
      }
    }
  }

  private noteCreating(peerKey: string, domain: string): void {
    this.creating.set(peerKey, { domain });
  }
}

function messageBetween(children: BoshChild[], from: number, to: number): boolean {
  for (let k = from + 1; k < to; k++) if ((children[k] as BoshChild).local === 'message') return true;
  return false;
}

/** Edits in body order as one splice: the bytes between them are copied unchanged. */
function joined(edits: BoshSplice[], body: Buffer | undefined): BoshSplice | null {
  if (edits.length === 0) return null;
  if (edits.length === 1) return edits[0] as BoshSplice;
  if (body === undefined) return edits[0] as BoshSplice;
  const parts: Buffer[] = [];
  const first = edits[0] as BoshSplice;
  let at = first.start;
  for (const e of edits) {
    parts.push(body.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  return { start: first.start, end: at, bytes: Buffer.concat(parts) };
}
