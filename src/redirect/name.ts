// A server name as the client's first bytes carry it (XMPP to=, HTTP Host,
// TLS SNI): validated before it can become a dial target, so a crafted
// header cannot smuggle a path, a user part or control bytes into one.
import net from 'node:net';
import type { Destination } from '../../socks/types';

export interface ServerName {
  /** Lower-case, no trailing dot; IPv6 without brackets. */
  host: string;
  /** Only when the bytes said it (HTTP Host "h:8080"). */
  port?: number;
  type: Destination['type'];
}

/** RFC 1035 total length. */
const MAX_NAME = 253;
// Underscore is not in RFC 952, but real zones use it and it cannot harm a dial.
const LABELS = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A host without port: DNS name, IPv4 literal, or IPv6 literal with or without brackets. */
export function parseHost(text: string): ServerName | null {
  let h = text.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) {
    h = h.slice(1, -1);
    return net.isIPv6(h) ? { host: h, type: 'ipv6' } : null;
  }
  if (net.isIPv6(h)) return { host: h, type: 'ipv6' };
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.length === 0 || h.length > MAX_NAME) return null;
  if (net.isIPv4(h)) return { host: h, type: 'ipv4' };
  return LABELS.test(h) ? { host: h, type: 'domain' } : null;
}

/** "host", "host:port", "[v6]" or "[v6]:port" (HTTP Host, RFC 9110 §7.2). */
export function parseAuthority(text: string): ServerName | null {
  const t = text.trim();
  let hostPart = t;
  let portPart: string | undefined;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return null;
    hostPart = t.slice(0, close + 1);
    const rest = t.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portPart = rest.slice(1);
    }
  } else {
    const colon = t.indexOf(':');
    if (colon >= 0) {
      if (t.indexOf(':', colon + 1) >= 0) return null;
      hostPart = t.slice(0, colon);
      portPart = t.slice(colon + 1);
    }
  }
  const name = parseHost(hostPart);
  if (!name) return null;
  // An empty port ("host:") means the default (RFC 3986 §3.2.3).
  if (portPart === undefined || portPart === '') return name;
  if (!/^\d{1,5}$/.test(portPart)) return null;
  const port = Number(portPart);
  if (port < 1 || port > 65535) return null;
  return { ...name, port };
}
