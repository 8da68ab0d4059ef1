// redirect.upstreams: server names (as clients send them) to "host:port".
// Looked up before anything is dialed, so tests and operators never depend on
// DNS; a name not in the map is dialed as is.
import type { Destination } from '../../socks/types';
import { parseAuthority, type ServerName } from './name';

/** Parses a config "host:port" (validated by the schema; null if not). */
export function parseHostPort(text: string): Destination | null {
  const a = parseAuthority(text);
  if (!a || a.port === undefined) return null;
  return { host: a.host, port: a.port, type: a.type };
}

export class UpstreamMap {
  private readonly map = new Map<string, Destination>();

  constructor(entries: Readonly<Record<string, string>>) {
    for (const [name, target] of Object.entries(entries)) {
      const dest = parseHostPort(target);
      if (dest) this.map.set(normalizeKey(name), dest);
    }
  }

  get size(): number {
    return this.map.size;
  }

  /**
   * Where to dial for a name the client sent. "name:port" is tried before
   * "name" when the client gave a port; unmapped names keep the client's
   * port, else `defaultPort` (the port it connected to: under DNS
   * redirection that is the real server's port).
   */
  resolve(name: ServerName, defaultPort: number): Destination {
    if (name.port !== undefined) {
      const exact = this.map.get(`${keyHost(name)}:${name.port}`);
      if (exact) return exact;
    }
    const byName = this.map.get(keyHost(name));
    if (byName) return byName;
    return { host: name.host, port: name.port ?? defaultPort, type: name.type };
  }
}

function keyHost(n: ServerName): string {
  return n.type === 'ipv6' ? `[${n.host}]` : n.host;
}

function normalizeKey(k: string): string {
  const t = k.trim().toLowerCase();
  return t.endsWith('.') ? t.slice(0, -1) : t;
}
