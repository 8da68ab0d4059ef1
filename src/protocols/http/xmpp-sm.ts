// XEP-0198 stream management for XMPP carried over HTTP (RFC 7395
// WebSocket, XEP-0206 BOSH), where the gateway removes stanzas (blocked) and
// adds some (error stanzas for the client, bounces of blocked inbound
// stanzas for the server). The rules are the TCP session's
// (src/protocols/xmpp/session.ts), over the same AckMapper: a blocked client
// stanza is replaced by a ping the server counts and answers, and the answer
// is hidden, so the server's count of client stanzas never drifts; a blocked
// server stanza and an injected error shift the server -> client numbering,
// a bounce the server gets (which the client never sent) shifts the
// client -> server one, and every h crossing the gateway (<a/>, <resume/>, <resumed/>, <failed/>)
// is translated into the numbering of the peer that reads it.
// Carriers differ only in where an h arrives and when an injected stanza
// actually reaches its peer, so they call in at those points.
import type { Attr, XElement } from '../xmpp/element';
import { pingSubstitute } from '../xmpp/replies';
import { resumeTtlMs, resumptionKey, resumptions, type SmState } from '../xmpp/resumption';
import { AckMapper } from '../xmpp/smacks';

const NS_SM = 'urn:xmpp:sm:';
const MAX_IDS = 256;
const H = /^\d{1,10}$/;

/** Who the stream belongs to (kept by the carrier's inspector; read and filled on resumption). */
export interface SmIdentity {
  account: string | undefined;
  fullJid: string | undefined;
}

interface Resuming {
  key: string;
  /** The client's h as it wrote it (its own numbering). */
  h: number;
  /** The earlier stream's state (a copy), or null when this gateway never saw it. */
  state: SmState | null;
}

export function isSmElement(el: XElement): boolean {
  return el.ns.startsWith(NS_SM);
}

export class StreamManagement {
  /** client -> server stanzas (the server acks them) and server -> client (the client acks them). */
  up = new AckMapper();
  down = new AckMapper();
  /** Too many adjustments without an ack: the counters can no longer be kept valid. */
  broken = false;
  private swallow = new Set<string>();
  private pingSeq = 0;
  private key: string | null = null;
  private resuming: Resuming | null = null;

  /**
   * `scope` names the server for the process-wide resumption table
   * (address, or the BOSH endpoint URL with port 0); null: no resumption
   * across streams.
   */
  constructor(
    private readonly ident: SmIdentity,
    private readonly scope: { host: string; port: number } | null,
  ) {}

  get active(): boolean {
    return this.up.active || this.down.active;
  }

  /**
   * An SM element (either side). Returns the bytes to forward in place of
   * [el.start, el.end) of `src`, or null to forward it unchanged.
   */
  nonza(side: 'c2s' | 's2c', el: XElement, src: Buffer): Buffer | null {
    if (!isSmElement(el)) return null;
    if (side === 'c2s') {
      switch (el.local) {
        case 'enable':
          this.up.start();
          return null;
        case 'a':
          return this.ack(el, src, this.down);
        case 'resume':
          return this.onResume(el, src);
        default:
          return null;
      }
    }
    switch (el.local) {
      case 'enabled':
        this.onEnabled(el);
        return null;
      case 'a':
        return this.ack(el, src, this.up);
      case 'resumed':
        return this.onResumed(el, src);
      case 'failed':
        return this.onFailed(el, src);
      default:
        return null;
    }
  }

  /** A client stanza went on to the server (as it was, or rewritten). */
  clientForwarded(): void {
    this.up.delivered();
  }

  /**
   * A client stanza is suppressed. Returns the substitute to send the server
   * in its place (a ping whose answer is hidden), or null when nothing counts.
   */
  clientBlocked(domain: string | undefined): Buffer | null {
    if (!this.up.active) return null;
    const id = `imgate-${++this.pingSeq}`;
    if (this.swallow.size < MAX_IDS) this.swallow.add(id);
    this.up.delivered();
    return pingSubstitute(id, domain);
  }

  /** A client stanza suppressed without a substitute (the carrier could not send one). */
  clientDropped(): void {
    this.adjust(this.up.suppressed());
  }

  /** Whether a server stanza is the answer to one of our substitutes (then the caller drops it). */
  swallowed(el: XElement): boolean {
    if (el.local !== 'iq') return false;
    const id = el.attrs.get('id')?.value;
    if (id === undefined || !this.swallow.delete(id)) return false;
    this.adjust(this.down.suppressed());
    return true;
  }

  serverForwarded(): void {
    this.down.delivered();
  }

  serverBlocked(): void {
    this.adjust(this.down.suppressed());
  }

  /** A gateway-made stanza reached the client: call when it is actually placed in the client's stream. */
  injectedToClient(): void {
    this.down.delivered();
    this.adjust(this.down.injected());
  }

  /**
   * A gateway-made stanza reached the server (a bounce of a blocked inbound
   * stanza): the server counts it, the client never sent it. Call when it is
   * actually placed in the server's stream, after the client stanzas before it.
   */
  injectedToServer(): void {
    this.up.delivered();
    this.adjust(this.up.injected());
  }

  /** The session went quiet (connection closed, BOSH request ended): its resumption window restarts. */
  touch(): void {
    if (this.key !== null) resumptions.touch(this.key);
  }

  /** A clean close (<close/>, BOSH terminate) ends the session for good: nothing will resume it. */
  closed(): void {
    if (this.key === null) return;
    if (resumptions.get(this.key)?.up === this.up) resumptions.delete(this.key);
    this.key = null;
  }

  private adjust(ok: boolean): void {
    if (!ok) this.broken = true;
  }

  private ack(el: XElement, src: Buffer, mapper: AckMapper): Buffer | null {
    const h = el.attrs.get('h');
    if (h === undefined || !mapper.active || !H.test(h.value)) return null;
    this.touch();
    return mapped(el, src, h, mapper.map(Number(h.value)));
  }

  private onEnabled(el: XElement): void {
    this.down.start();
    const id = el.attrs.get('id')?.value;
    const resume = el.attrs.get('resume')?.value;
    if (this.scope !== null && id !== undefined && id !== '' && (resume === 'true' || resume === '1')) {
      this.register(resumptionKey(this.scope.host, this.scope.port, id), resumeTtlMs(el.attrs.get('max')?.value));
    }
  }

  private register(key: string, ttlMs: number): void {
    this.key = key;
    const state: SmState = { up: this.up, down: this.down, swallow: this.swallow, account: this.ident.account, fullJid: this.ident.fullJid };
    resumptions.put(key, state, ttlMs);
  }

  /** <resume previd h/>: the client's h (old numbering) becomes the server's; the old state is copied now. */
  private onResume(el: XElement, src: Buffer): Buffer | null {
    const id = el.attrs.get('previd')?.value;
    const h = el.attrs.get('h');
    if (this.scope === null || id === undefined || h === undefined || !H.test(h.value)) return null;
    const key = resumptionKey(this.scope.host, this.scope.port, id);
    const old = resumptions.get(key);
    const n = Number(h.value);
    const acc = this.ident.account;
    if (old === undefined || (old.account !== undefined && acc !== undefined && old.account !== acc)) {
      this.resuming = { key, h: n, state: null };
      return null;
    }
    const state: SmState = { up: old.up.clone(), down: old.down.clone(), swallow: new Set(old.swallow), account: old.account, fullJid: old.fullJid };
    this.resuming = { key, h: n, state };
    return mapped(el, src, h, state.down.map(n));
  }

  /** <resumed h/>: the server's count of client stanzas, in the client's numbering. */
  private onResumed(el: XElement, src: Buffer): Buffer | null {
    const h = el.attrs.get('h');
    const r = this.resuming;
    if (r === null || h === undefined || !H.test(h.value)) return null;
    this.resuming = null;
    const m = Number(h.value);
    if (r.state !== null) {
      this.up = r.state.up;
      this.down = r.state.down;
      this.swallow = new Set(r.state.swallow);
      for (const id of this.swallow) {
        // Our next pings must not reuse an id whose answer is still owed.
        const n = Number(id.slice(id.lastIndexOf('-') + 1));
        if (Number.isSafeInteger(n) && n > this.pingSeq) this.pingSeq = n;
      }
      this.ident.fullJid ??= r.state.fullJid;
      this.ident.account ??= r.state.account;
    }
    const out = r.state !== null ? this.up.map(m) : m;
    // Both sides now re-send what the other did not handle; counting goes on from the stated h.
    this.up.rewind(m);
    this.down.rewind(r.h);
    this.register(r.key, resumeTtlMs(undefined));
    return mapped(el, src, h, out);
  }

  private onFailed(el: XElement, src: Buffer): Buffer | null {
    const r = this.resuming;
    if (r === null) return null;
    this.resuming = null;
    resumptions.delete(r.key);
    const h = el.attrs.get('h');
    if (r.state === null || h === undefined || !H.test(h.value)) return null;
    return mapped(el, src, h, r.state.up.map(Number(h.value)));
  }
}

/** The element with its h replaced (null when the value is unchanged: the original bytes go on). */
function mapped(el: XElement, src: Buffer, h: Attr, value: number): Buffer | null {
  const v = String(value);
  if (v === h.value) return null;
  return Buffer.concat([src.subarray(el.start, h.start), Buffer.from(v, 'latin1'), src.subarray(h.end, el.end)]);
}
