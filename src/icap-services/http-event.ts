// Builds the 'http' event from an ICAP request using only the encapsulated
// heads (never the body), so the decision costs no body bytes.
import type { HttpHead, IcapRequest } from '../../icap/types';
import { newEventId } from '../events/id';
import type { ImEvent } from '../events/types';
import { normalizeAddress } from '../util/cidr';

export interface ParsedRequestLine {
  method: string;
  url: string;
  host?: string;
  port?: number;
}

/** 1 to 5 ASCII digits (what /^\d{1,5}$/ accepted), per request without a RegExp. */
function isPortText(s: string): boolean {
  if (s.length === 0 || s.length > 5) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function splitHostPort(authority: string): { host: string; port?: number } {
  const at = authority.indexOf('@');
  const a = at < 0 ? authority : authority.slice(at + 1);
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    const host = end > 0 ? a.slice(1, end) : a;
    const portText = end > 0 && a[end + 1] === ':' ? a.slice(end + 2) : '';
    return isPortText(portText) ? { host, port: Number(portText) } : { host };
  }
  const colon = a.lastIndexOf(':');
  if (colon > 0 && isPortText(a.slice(colon + 1))) return { host: a.slice(0, colon), port: Number(a.slice(colon + 1)) };
  return { host: a };
}

/** Index of the ':' of a leading "scheme://", or -1 (same grammar as /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//). */
export function schemeEnd(url: string): number {
  const n = url.length;
  if (n === 0 || !isAlpha(url.charCodeAt(0))) return -1;
  let i = 1;
  for (; i < n; i++) {
    const c = url.charCodeAt(i);
    if (isAlpha(c) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2e || c === 0x2d) continue;
    break;
  }
  return i + 2 < n && url.charCodeAt(i) === 0x3a && url.charCodeAt(i + 1) === 0x2f && url.charCodeAt(i + 2) === 0x2f ? i : -1;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** "GET http://h:8080/p HTTP/1.1" (or origin-form with Host, or CONNECT h:443) -> method, URL, host. */
export function parseRequestLine(head: HttpHead): ParsedRequestLine {
  const line = head.startLine;
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  const method = sp1 > 0 ? line.slice(0, sp1) : line;
  const target = sp1 > 0 ? (sp2 > sp1 ? line.slice(sp1 + 1, sp2) : line.slice(sp1 + 1)) : '';
  const hostHeader = head.get('host');
  let url = target;
  let authority: string | undefined;
  const se = schemeEnd(target);
  if (se > 0) {
    let i = se + 3;
    while (i < target.length) {
      const c = target.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
      i++;
    }
    authority = target.slice(se + 3, i);
  } else if (method.toUpperCase() === 'CONNECT') {
    authority = target;
  } else if (hostHeader) {
    authority = hostHeader;
    url = `http://${hostHeader}${target.startsWith('/') ? '' : '/'}${target}`;
  }
  const out: ParsedRequestLine = { method, url };
  const hp = authority ? splitHostPort(authority) : hostHeader ? splitHostPort(hostHeader) : null;
  if (hp && hp.host !== '') {
    out.host = hp.host.toLowerCase();
    if (hp.port !== undefined) out.port = hp.port;
  }
  return out;
}

function isHttps(url: string): boolean {
  return url.length >= 6 && url.charCodeAt(5) === 0x3a && url.slice(0, 5).toLowerCase() === 'https';
}

export function httpEvent(req: IcapRequest): ImEvent {
  const ev: ImEvent = {
    id: newEventId(),
    time: Date.now(),
    conn: req.connectionId,
    door: 'icap',
    groups: req.client.groups,
    protocol: 'http',
    kind: 'http',
    direction: req.method === 'REQMOD' ? 'out' : 'in',
  };
  if (req.client.ip) ev.clientIp = normalizeAddress(req.client.ip);
  if (req.client.user) ev.user = req.client.user;
  if (req.httpRequest) {
    const p = parseRequestLine(req.httpRequest);
    ev.method = p.method;
    ev.url = p.url;
    if (p.host !== undefined) {
      ev.host = p.host;
      ev.destination = { host: p.host, port: p.port ?? (isHttps(p.url) || p.method === 'CONNECT' ? 443 : 80) };
    }
  }
  return ev;
}
