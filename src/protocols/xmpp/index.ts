// XMPP c2s (RFC 6120/6121) dissector: see session.ts for what is inspected
// and how verdicts are carried out in XMPP's own terms.
import type { ProtocolModule } from '../types';
import { probeXmpp } from './probe';
import { XmppSession } from './session';

export const xmppModule: ProtocolModule = {
  name: 'xmpp',
  probe: probeXmpp,
  create: (ctx, out) => new XmppSession(ctx, out),
};

export { XmlUnitTokenizer, type UnitKind, type UnitSink } from './tokenizer';
export { parseElement, attr, child, find, type XElement } from './element';
// Shared with the XMPP carried over HTTP (src/protocols/http: BOSH, WebSocket)
// and through ICAP (src/web), so one implementation decides XMPP everywhere.
export { escapeXml } from './escape';
export { findOffer } from './offers';
export { blockedText, saslFailure, stanzaError } from './replies';
export { authIdentity, bareJid } from './sasl';
