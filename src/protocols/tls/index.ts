// TLS: the ClientHello's server name (SNI) and ALPN classify the application
// (conf/apps.yaml); after that one decision the tunnel is a bare pipe.
import type { ProbeResult, ProtocolModule, Side } from '../types';
import { tlsApps } from './catalog';
import { TlsSession } from './session';

export { AppCatalog, parseApps, loadAppsFile, resolveAppsPath, embeddedAppsPath } from './apps';
export { tlsApps, setTlsApps } from './catalog';
export { parseClientHello, type HelloInfo, type HelloResult } from './hello';
export { ClientHelloReader } from './reader';
export { TlsSession, MAX_CLIENT_HELLO } from './session';

/** A handshake record (0x16), version 3.0-3.4, of sane length, whose first message is a ClientHello (1). */
export function probeTls(from: Side, head: Buffer): ProbeResult {
  if (from !== 'c2s') return 'no';
  if (head[0] !== 0x16) return 'no';
  if (head.length < 2) return 'more';
  if (head[1] !== 0x03) return 'no';
  if (head.length < 3) return 'more';
  if ((head[2] as number) > 0x04) return 'no';
  if (head.length < 5) return 'more';
  const len = head.readUInt16BE(3);
  if (len === 0 || len > 16_384) return 'no';
  if (head.length < 6) return 'more';
  return head[5] === 0x01 ? 'match' : 'no';
}

export const tlsModule: ProtocolModule = {
  name: 'tls',
  probe: probeTls,
  create: (ctx, out) => new TlsSession(ctx, out, tlsApps()),
};
