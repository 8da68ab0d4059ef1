// Request targets of an HTTP proxy: CONNECT authority-form ("host:port",
// "[v6]:port") and absolute-form ("http://host:port/path?q"). Hosts are
// validated and classified so destination rules see IP literals as IPs.
import { isIP, isIPv4 } from 'node:net';
import type { Destination } from './types';
import { formatIpv6, parseIpv6 } from './ip';

const DOMAIN_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_.])?$/;
const PORT_RE = /^\d{1,5}$/;

function destinationOf(host: string, port: number): Destination | null {
  if (port < 1 || port > 65535) return null;
  if (host.startsWith('[') && host.endsWith(']')) {
    const bytes = parseIpv6(host.slice(1, -1));
    return bytes ? { host: formatIpv6(bytes, 0), port, type: 'ipv6' } : null;
  }
  if (isIPv4(host)) return { host, port, type: 'ipv4' };
  if (isIP(host) === 6) return null; // IPv6 must be bracketed in HTTP
  if (host.length > 253 || !DOMAIN_RE.test(host)) return null;
  return { host: host.toLowerCase(), port, type: 'domain' };
}

function splitHostPort(authority: string, defaultPort: number | null): Destination | null {
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    host = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else host = authority;
  }
  let port: number;
  if (portText === undefined || portText === '') {
    if (defaultPort === null) return null;
    port = defaultPort;
  } else {
    if (!PORT_RE.test(portText)) return null;
    port = Number(portText);
  }
  return destinationOf(host, port);
}

/** CONNECT target: port required. */
export function parseAuthority(target: string): Destination | null {
  return splitHostPort(target, null);
}

export interface AbsoluteTarget {
  destination: Destination;
  /** Host header value for the origin (authority without userinfo). */
  hostHeader: string;
  /** Origin-form request target ("/path?query"), as sent (no normalization). */
  path: string;
}

/** "http://authority/path" -> parts, or null when not an http absolute URI. */
export function parseAbsoluteTarget(target: string): AbsoluteTarget | null {
  if (target.length < 8 || target.slice(0, 7).toLowerCase() !== 'http://') return null;
  const rest = target.slice(7);
  let cut = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) {
      cut = i;
      break;
    }
  }
  let authority = rest.slice(0, cut);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority === '') return null;
  const destination = splitHostPort(authority, 80);
  if (!destination) return null;
  let path = rest.slice(cut);
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  if (path === '') path = '/';
  else if (path.startsWith('?')) path = `/${path}`;
  const hostText = destination.type === 'ipv6' ? `[${destination.host}]` : destination.host;
  const hostHeader = destination.port === 80 ? hostText : `${hostText}:${destination.port}`;
  return { destination, hostHeader, path };
}
