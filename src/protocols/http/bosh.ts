// XMPP over BOSH (XEP-0124/0206): every request and response body is one
// <body xmlns='http://jabber.org/protocol/httpbind'> whose children are
// stanzas. A body is rewritten only when a verdict says so: blocked stanzas
// are cut out, redacted ones replaced, gateway-made answers for the client
// (SASL failure, stanza errors) ride in the next response body, and the
// bounce of a blocked inbound stanza (an error for its remote sender) rides
// at the end of the client's next request body of that session.
// XEP-0198 counters live in the inspector's XmppInner, which outlives the
// requests of its sid; an owed stanza is counted for the client when it is
// placed in a response, since that is where the client's count sees it; a
// bounce for the server is counted when it is placed in a request.
import type { SessionContext, Side } from '../types';
import { attr, parseElement, type XElement } from '../xmpp';
import { XmppInner } from './xmpp-inner';

export const NS_BOSH = 'http://jabber.org/protocol/httpbind';
/** Gateway answers waiting for a response body (bounded: they are small and few). */
const MAX_PENDING = 64 * 1024;

export function isBoshBody(el: XElement | null): el is XElement {
  return el !== null && el.local === 'body' && el.ns === NS_BOSH;
}

/** Does a body start like a BOSH <body>? (cheap sniff before a parse) */
export function looksLikeBosh(body: Buffer): boolean {
  const s = body.toString('latin1', 0, Math.min(body.length, 512));
  return /^\s*(<\?xml[^>]*\?>\s*)?<body[\s/>]/.test(s) && body.includes(NS_BOSH, 0, 'latin1');
}

/**
 * Puts `owed` at the end of the content of <body> `el` (opening a
 * self-closed `<body .../>`); `parts` holds `src` up to `at`. Returns the
 * new `at`.
 */
function appendInside(el: XElement, src: Buffer, at: number, owed: Buffer, parts: Buffer[]): number {
  const empty = el.innerStart === el.innerEnd && src[el.innerStart] === 0x2f; // '<body .../>'
  if (empty) {
    parts.push(src.subarray(at, el.innerStart), Buffer.from('>'), owed, Buffer.from(`</${el.name}>`));
    return el.end;
  }
  parts.push(src.subarray(at, el.innerEnd), owed);
  return el.innerEnd;
}

export class BoshInspector {
  readonly inner: XmppInner;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** How many of `pending` are stanzas the client counts (XEP-0198). */
  private pendingStanzas = 0;
  private warned = false;
  /** Gateway-made stanzas waiting for the client's next request body (bounces of blocked inbound stanzas). */
  private up: Buffer[] = [];
  private upLen = 0;

  constructor(private readonly ctx: SessionContext) {
    this.inner = new XmppInner(ctx, 'bosh');
  }

  /** Gateway answers still owed to the client. */
  get owed(): number {
    return this.pendingLen;
  }

  /**
   * One body. Returns the body to send (null: unchanged) or 'not-bosh' when
   * it is not a BOSH body at all.
   */
  body(side: Side, body: Buffer): Buffer | null | 'not-bosh' {
    const el = parseElement(body.toString('latin1'));
    if (!isBoshBody(el)) return 'not-bosh';
    if (side === 'c2s') this.inner.setDomain(attr(el, 'to'));
    // A terminating request ends the XMPP session: nothing will resume it.
    if (side === 'c2s' && attr(el, 'type') === 'terminate') this.inner.sm.closed();
    const parts: Buffer[] = [];
    let at = 0;
    let changed = false;
    for (const c of el.children) {
      const d = this.inner.element(side, c, body);
      if (d.toClient !== undefined) this.owe(d.toClient, d.toClientCounts === true);
      if (d.toServer !== undefined) this.oweServer(d.toServer);
      if (d.action === 'keep') continue;
      parts.push(body.subarray(at, c.start));
      if (d.action === 'replace' && d.bytes !== undefined) parts.push(d.bytes);
      at = c.end;
      changed = true;
    }
    if (side === 's2c' && this.pendingLen > 0 && attr(el, 'type') !== 'terminate') {
      // Deliver the owed answers inside this response's <body>.
      const owed = Buffer.concat(this.pending);
      for (let i = 0; i < this.pendingStanzas; i++) this.inner.sm.injectedToClient();
      this.pending = [];
      this.pendingLen = 0;
      this.pendingStanzas = 0;
      at = appendInside(el, body, at, owed, parts);
      changed = true;
    }
    if (side === 'c2s' && this.upLen > 0 && this.carriesPayload(el)) {
      // Bounces ride at the end of the client's next request: the server
      // handles them after the client's own stanzas, and counts them there.
      const owed = Buffer.concat(this.up);
      for (let i = 0; i < this.up.length; i++) this.inner.sm.injectedToServer();
      this.up = [];
      this.upLen = 0;
      at = appendInside(el, body, at, owed, parts);
      changed = true;
    }
    if (this.inner.sm.broken && !this.warned) {
      this.warned = true;
      this.ctx.log.warn({ app: 'bosh' }, 'xmpp: too many XEP-0198 adjustments without an ack; counters no longer translated');
    }
    if (!changed) return null;
    parts.push(body.subarray(at));
    return Buffer.concat(parts);
  }

  /**
   * A request body that may carry stanzas: one of a running session (it has
   * a sid), neither its end (terminate) nor a stream restart, whose body
   * XEP-0206 wants empty.
   */
  private carriesPayload(el: XElement): boolean {
    if (attr(el, 'sid') === undefined || attr(el, 'type') === 'terminate') return false;
    for (const [k] of el.attrs) if (k === 'restart' || k.endsWith(':restart')) return false;
    return true;
  }

  /** A bounce for the server (one stanza). Past the bound it is lost: the remote sender just gets no error. */
  private oweServer(b: Buffer): void {
    if (this.upLen + b.length > MAX_PENDING) return;
    this.up.push(b);
    this.upLen += b.length;
  }

  private owe(b: Buffer, counts: boolean): void {
    if (this.pendingLen + b.length > MAX_PENDING) return; // the client still sees its request unanswered
    this.pending.push(b);
    this.pendingLen += b.length;
    if (counts) this.pendingStanzas++;
  }
}
