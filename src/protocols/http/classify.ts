// What a request is, as far as IM inspection cares, from its line and head
// alone (the body is looked at later only for the 'bosh?' candidates).
import type { ParsedHttpHead } from '../../../icap/http-head';
import { MSN_GATEWAY_CONTENT_TYPE, parseGatewayUrl } from '../msnp';
import { isNotifyPath } from '../ymsg/http';
import { headerTokens, pathOf } from './framing';

export type RequestKind =
  | 'plain' // not IM: forwarded as it is
  | 'bosh' // XMPP over BOSH by its path
  | 'bosh?' // an XML POST: BOSH if its body is a httpbind <body>
  | 'msn' // MSN HTTP gateway
  | 'yahoo' // Yahoo! Messenger HTTP mode (POST /notify/)
  | 'ws-xmpp' // WebSocket upgrade offering the xmpp subprotocol
  | 'upgrade' // any other protocol upgrade
  | 'connect';

const BOSH_PATHS = ['/http-bind', '/http-bind/', '/bosh', '/bosh/', '/xmpp-httpbind', '/xmpp-httpbind/'];

export function classifyRequest(method: string, target: string, head: ParsedHttpHead): RequestKind {
  if (method === 'CONNECT') return 'connect';
  if (headerTokens(head, 'upgrade').length > 0) {
    const ws = headerTokens(head, 'upgrade').includes('websocket');
    return ws && headerTokens(head, 'sec-websocket-protocol').includes('xmpp') ? 'ws-xmpp' : 'upgrade';
  }
  const path = pathOf(target);
  const ct = (head.get('content-type') ?? '').trim().toLowerCase();
  if (ct.startsWith(MSN_GATEWAY_CONTENT_TYPE) || parseGatewayUrl(path) !== null) return 'msn';
  if (method === 'POST' && isNotifyPath(path)) return 'yahoo';
  const q = path.indexOf('?');
  const p = (q < 0 ? path : path.slice(0, q)).toLowerCase();
  if (BOSH_PATHS.some((b) => p.endsWith(b))) return 'bosh';
  if (method === 'POST' && (ct.startsWith('text/xml') || ct.startsWith('application/xml'))) return 'bosh?';
  return 'plain';
}
