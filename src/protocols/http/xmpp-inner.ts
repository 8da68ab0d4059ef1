// XMPP stanzas carried by HTTP (BOSH bodies, RFC 7395 WebSocket messages):
// each top-level element is inspected like the XMPP dissector does on a TCP
// stream (SASL login, message bodies, file offers, presence) and the verdict
// becomes a disposition the carrier applies: keep the bytes, replace them
// (redaction), or drop them, optionally with an error for the client (a
// blocked outgoing stanza) or for the server to route back to the remote
// sender (a blocked incoming one, as the TCP session does).
// With XEP-0198 on, every stanza is counted per direction (xmpp-sm.ts): a
// blocked client stanza becomes a hidden ping (substitute rather than drop)
// and the h values crossing the gateway are translated.
import type { Verdict } from '../../events/types';
import type { EventDraft, SessionContext, Side } from '../types';
import { attr, authIdentity, bareJid, blockedText, child, escapeXml, find, findOffer, saslFailure, stanzaError, type XElement } from '../xmpp';
import { StreamManagement } from './xmpp-sm';

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_XHTML_IM = 'http://jabber.org/protocol/xhtml-im';

export type XmppApp = 'bosh' | 'websocket';

export interface Disposition {
  /** keep: forward the element as it is; replace: forward `bytes`; drop: forward nothing. */
  action: 'keep' | 'replace' | 'drop';
  bytes?: Buffer;
  /** Gateway-made element for the client (qualified for the carrier). */
  toClient?: Buffer;
  /**
   * `toClient` is a stanza the client counts (XEP-0198): the carrier calls
   * `sm.injectedToClient()` when it actually places it in the client's stream.
   */
  toClientCounts?: boolean;
  /**
   * Gateway-made stanza for the server (qualified): the bounce of a blocked
   * inbound stanza to its sender, as on TCP. The server counts it (XEP-0198):
   * the carrier calls `sm.injectedToServer()` when it places it in the
   * server's stream.
   */
  toServer?: Buffer;
}

const KEEP: Disposition = { action: 'keep' };
const DROP: Disposition = { action: 'drop' };

/** Gives a gateway-made stanza the jabber:client namespace its carrier needs. */
function qualified(b: Buffer): Buffer {
  const s = b.toString('utf8');
  const sp = s.indexOf(' ');
  const gt = s.indexOf('>');
  if (sp < 0 || gt < sp || s.slice(0, gt).includes(' xmlns=')) return b;
  return Buffer.from(`${s.slice(0, sp)} xmlns='jabber:client'${s.slice(sp)}`, 'utf8');
}

export class XmppInner {
  domain: string | undefined;
  account: string | undefined;
  fullJid: string | undefined;
  readonly sm: StreamManagement;

  /** `smScope`: the server's key in the resumption table (null: streams are not resumed across carriers). */
  constructor(
    private readonly ctx: SessionContext,
    readonly app: XmppApp,
    smScope: { host: string; port: number } | null = ctx.destination,
  ) {
    this.sm = new StreamManagement(this, smScope);
  }

  private decide(d: Omit<EventDraft, 'protocol' | 'app'>): Verdict {
    return this.ctx.decide({ protocol: 'xmpp', app: this.app, ...d });
  }

  private accountOf(id: string): string {
    return id.includes('@') || this.domain === undefined ? id : `${id}@${this.domain}`;
  }

  /** One top-level element `el` whose offsets index `src` (latin1 view = bytes). */
  element(side: Side, el: XElement, src: Buffer): Disposition {
    switch (el.local) {
      case 'open':
        if (side === 'c2s' && el.ns === NS_FRAMING) this.setDomain(attr(el, 'to'));
        return KEEP;
      case 'auth':
        return side === 'c2s' && el.ns === NS_SASL ? this.onAuth(el) : KEEP;
      case 'message':
      case 'presence':
      case 'iq':
        return this.counted(side, el, src);
      default: {
        const b = this.sm.nonza(side, el, src);
        return b === null ? KEEP : { action: 'replace', bytes: b };
      }
    }
  }

  /** A stanza: decided, then counted for XEP-0198 as what actually reaches the other side. */
  private counted(side: Side, el: XElement, src: Buffer): Disposition {
    if (side === 's2c' && this.sm.swallowed(el)) return DROP; // the answer to our substitute ping
    const d = this.stanza(side, el, src);
    if (d.action !== 'drop') {
      if (side === 'c2s') this.sm.clientForwarded();
      else this.sm.serverForwarded();
      return d;
    }
    if (side === 's2c') {
      this.sm.serverBlocked();
      return d;
    }
    const ping = this.sm.clientBlocked(this.domain);
    if (ping === null) return d;
    return { ...d, action: 'replace', bytes: qualified(ping) };
  }

  setDomain(to: string | undefined): void {
    if (to !== undefined && to !== '' && this.domain === undefined) this.domain = to;
  }

  private onAuth(el: XElement): Disposition {
    const mechanism = attr(el, 'mechanism') ?? '';
    const id = authIdentity(mechanism, el.text);
    if (id !== null) this.account = this.accountOf(id);
    const v = this.decide({ kind: 'login', side: 'c2s', account: this.account, detail: { mechanism, sasl: 'auth' } });
    if (v.action === 'allow' || v.action === 'log') return KEEP;
    this.ctx.log.info({ account: this.account, rule: v.rule, app: this.app }, 'xmpp: login blocked');
    const who = this.account ?? 'this account';
    this.account = undefined;
    return { action: 'drop', toClient: saslFailure(blockedText(v.rule, `Login of ${who}`)) };
  }

  private stanza(side: Side, el: XElement, src: Buffer): Disposition {
    const type = attr(el, 'type') ?? '';
    if (el.local === 'iq') {
      if (side === 's2c' && type === 'result') {
        const jid = find(el, 'jid', NS_BIND)?.text.trim();
        if (jid) {
          this.fullJid = jid;
          this.account = bareJid(jid);
        }
      }
    } else if (side === 's2c' && this.account === undefined) {
      const to = attr(el, 'to');
      if (to !== undefined && to.includes('@')) this.account = bareJid(to);
    }
    if (type === 'error') return KEEP;
    const peerAttr = attr(el, side === 'c2s' ? 'to' : 'from');
    const base = { side, account: this.account, peer: peerAttr ? bareJid(peerAttr) : undefined };
    let what: 'message' | 'file' | 'presence';
    let v: Verdict;
    const offer = findOffer(el);
    if (offer !== null) {
      what = 'file';
      v = this.decide({ ...base, kind: 'file', file: offer.file, detail: { via: offer.via } });
    } else if (el.local === 'message') {
      const body = child(el, 'body');
      if (body === undefined) return KEEP;
      what = 'message';
      v = this.decide({ ...base, kind: 'message', text: body.text, detail: { type: type || 'normal' } });
    } else if (el.local === 'presence') {
      what = 'presence';
      v = this.decide({ ...base, kind: 'presence', detail: { type: type || 'available' } });
    } else {
      return KEEP;
    }
    if (v.action === 'allow' || v.action === 'log') return KEEP;
    if (v.action === 'redact' && what === 'message') return { action: 'replace', bytes: this.redactBodies(el, src, v) };
    this.ctx.log.info({ side, kind: what, rule: v.rule, app: this.app }, 'xmpp: stanza blocked');
    // A message or an iq get/set waits for an answer; presence does not.
    if (el.local !== 'message' && !(el.local === 'iq' && (type === 'get' || type === 'set'))) return DROP;
    const text = blockedText(v.rule, what === 'file' ? 'File transfer' : what === 'message' ? 'Message' : 'Presence');
    const condition = what === 'file' ? 'forbidden' : 'policy-violation';
    const errType = what === 'file' ? 'cancel' : 'modify';
    const id = attr(el, 'id');
    if (side === 'c2s') {
      const err = stanzaError({ element: el.local, id, from: attr(el, 'to') ?? this.domain, to: this.fullJid }, condition, errType, text);
      return { action: 'drop', toClient: qualified(err), toClientCounts: true };
    }
    // Inbound: the remote sender is told, as on TCP. Errors never get here
    // (type='error' is kept above), so a bounce never answers a bounce; a
    // stanza without a from came from the server itself: nobody to tell.
    const from = attr(el, 'from');
    if (from === undefined || from === '') return DROP;
    return { action: 'drop', toServer: qualified(stanzaError({ element: el.local, id, to: from }, condition, errType, text)) };
  }

  /** The stanza with every <body> text redacted and rich (XHTML-IM) copies removed. */
  private redactBodies(el: XElement, src: Buffer, v: Verdict): Buffer {
    const parts: Buffer[] = [];
    let at = el.start;
    for (const c of el.children) {
      if (c.local === 'html' && c.ns === NS_XHTML_IM) {
        parts.push(src.subarray(at, c.start));
        at = c.end;
        continue;
      }
      if (c.local !== 'body' || c.innerEnd < c.innerStart) continue;
      parts.push(src.subarray(at, c.innerStart), Buffer.from(escapeXml(this.ctx.redact(c.text, v)), 'utf8'));
      at = c.innerEnd;
    }
    parts.push(src.subarray(at, el.end));
    return Buffer.concat(parts);
  }
}
