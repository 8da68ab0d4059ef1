// What a redirected client is told when the gateway will not connect it,
// in the protocol it spoke: an HTTP status, an XMPP stream error (RFC 6120
// §4.9). Other protocols (TLS, opaque) only see the connection close.
import type { RefusalReason } from '../../socks/types';
import type { SniffedProtocol } from './sniff';

export type RefusalKind = RefusalReason | 'client-not-allowed' | 'protocol-error' | 'timeout';

const HTTP: Partial<Record<RefusalKind, string>> = {
  'not-allowed': '403 Forbidden',
  'protocol-error': '400 Bad Request',
  timeout: '408 Request Timeout',
  'ttl-expired': '504 Gateway Timeout',
};

const XMPP: Partial<Record<RefusalKind, string>> = {
  'not-allowed': 'policy-violation',
  'protocol-error': 'host-unknown',
  timeout: 'connection-timeout',
};

const xmlText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function refusalReply(protocol: SniffedProtocol | null, kind: RefusalKind, text: string): string | null {
  if (protocol === 'http') {
    const status = HTTP[kind] ?? '502 Bad Gateway';
    const body = `imgate: ${text}\n`;
    return `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  }
  if (protocol === 'xmpp') {
    const cond = XMPP[kind] ?? 'remote-connection-failed';
    return (
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>` +
      `<stream:error><${cond} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>` +
      `<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>imgate: ${xmlText(text)}</text></stream:error></stream:stream>`
    );
  }
  return null;
}
