// Gateway-made XMPP answers, in each error's own RFC 6120 / XEP wording.
import { escapeXml } from './escape';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';

export function blockedText(rule: string, what: string): string {
  return `${what} blocked by imgate policy (rule ${rule})`;
}

function addr(to: string | undefined, from: string | undefined, id: string | undefined): string {
  let s = '';
  if (id !== undefined) s += ` id='${escapeXml(id)}'`;
  if (to !== undefined && to !== '') s += ` to='${escapeXml(to)}'`;
  if (from !== undefined && from !== '') s += ` from='${escapeXml(from)}'`;
  return s;
}

export interface ErrorAddress {
  /** The element to answer with: message, presence or iq. */
  element: string;
  id?: string;
  to?: string;
  from?: string;
}

/** A stanza error (type='error') with a defined condition and a text. */
export function stanzaError(a: ErrorAddress, condition: 'policy-violation' | 'forbidden', type: 'modify' | 'cancel' | 'auth', text: string): Buffer {
  const el = a.element === 'presence' || a.element === 'iq' ? a.element : 'message';
  return Buffer.from(
    `<${el} type='error'${addr(a.to, a.from, a.id)}><error type='${type}'><${condition} xmlns='${STANZAS}'/>` +
      `<text xmlns='${STANZAS}'>${escapeXml(text)}</text></error></${el}>`,
    'utf8',
  );
}

export function saslFailure(text: string): Buffer {
  return Buffer.from(
    `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>${escapeXml(text)}</text></failure>`,
    'utf8',
  );
}

export function saslAbort(): Buffer {
  return Buffer.from(`<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
}

/** A stream error then the stream close: the peer must end the session. */
export function streamError(text: string, withHeader: boolean): Buffer {
  const head = withHeader ? `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>` : '';
  return Buffer.from(
    `${head}<stream:error><policy-violation xmlns='${STREAMS}'/><text xmlns='${STREAMS}'>${escapeXml(text)}</text></stream:error></stream:stream>`,
    'utf8',
  );
}

/** A stanza the server counts (XEP-0198) and answers; the gateway swallows the answer. */
export function pingSubstitute(id: string, to: string | undefined): Buffer {
  return Buffer.from(`<iq type='get' id='${escapeXml(id)}'${to ? ` to='${escapeXml(to)}'` : ''}><ping xmlns='urn:xmpp:ping'/></iq>`);
}
