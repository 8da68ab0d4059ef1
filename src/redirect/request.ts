// The TunnelRequest a redirected connection becomes: the same shape the
// doors hand to src/relay, so access rules, the pre-dial policy decision and
// inspection treat it exactly like a SOCKS5 or CONNECT tunnel.
import type { Destination, TunnelRequest } from '../../socks/types';

export function tunnelRequest(id: string, client: { address: string; port: number }, destination: Destination): TunnelRequest {
  return { id, door: 'redirect', mode: 'connect', client, destination };
}
