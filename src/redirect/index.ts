// Redirected mode: listeners on IM ports that take connections DNS or
// firewall redirection sends to the gateway, find the real destination in
// the client's first bytes (XMPP to=, HTTP Host, TLS SNI) or a configured
// upstream, and connect through the same DoorHooks as the proxy doors.
import type { Config } from '../config/load';
import { RedirectListener, type RedirectDeps } from './listener';

export { RedirectListener, type RedirectDeps, type RedirectListenerSpec, type RedirectProtocol } from './listener';
export { redirectSettingsFromConfig, type RedirectSettings } from './settings';
export { HeadSniffer, type SniffMode, type SniffResult, type SniffedProtocol } from './sniff';
export { UpstreamMap, parseHostPort } from './upstreams';
export { isOwnAddress, localAddresses, type BoundAddress } from './loop';
export { parseAuthority, parseHost, type ServerName } from './name';

/** One listener per redirect.listeners entry, not yet listening. */
export function createRedirectListeners(config: Config, deps: RedirectDeps): RedirectListener[] {
  return config.redirect.listeners.map(
    (l, index) => new RedirectListener({ index, host: l.listen.host, port: l.listen.port, protocol: l.protocol, upstream: l.upstream }, deps),
  );
}
