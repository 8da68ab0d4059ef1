// HTTP/1.x inside tunnels (IM over port 80): the MSN HTTP gateway, XMPP over
// BOSH and XMPP over WebSocket are inspected by the XMPP / MSNP logic (events
// carry protocol 'xmpp' or 'msnp' with app 'bosh', 'websocket' or
// 'msn-http'); any other HTTP passes through unread. See session.ts.
import type { ProtocolModule } from '../types';
import { probeHttp } from './probe';
import { HttpSession } from './session';

export const httpModule: ProtocolModule = {
  name: 'http',
  probe: probeHttp,
  create: (ctx, out) => new HttpSession(ctx, out),
};

export { probeHttp } from './probe';
export { HttpSession, HTTP_HEAD_LIMITS, MAX_PIPELINE } from './session';
export { WsReader, buildFrame, type WsFrame } from './websocket';
export { ForwardedIm, boshSid, type ForwardedExchange, type ForwardedLimits, type HeaderMap } from './forwarded';
