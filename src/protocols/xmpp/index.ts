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
export { parseElement, type XElement } from './element';
