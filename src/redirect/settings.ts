// The redirect: section as the listeners read it per connection (built once
// per config load, so a reload of the upstreams map applies to new
// connections; the listeners themselves need a restart).
import type { Config } from '../config/load';
import { UpstreamMap } from './upstreams';

export interface RedirectSettings {
  readonly upstreams: UpstreamMap;
  /** Client bytes read, at most, to find the destination. */
  readonly maxHeadBytes: number;
  /** How long to wait for them. */
  readonly headTimeoutMs: number;
}

export function redirectSettingsFromConfig(config: Config): RedirectSettings {
  const r = config.redirect;
  return Object.freeze({ upstreams: new UpstreamMap(r.upstreams), maxHeadBytes: r.max_head_bytes, headTimeoutMs: r.head_timeout_ms });
}
