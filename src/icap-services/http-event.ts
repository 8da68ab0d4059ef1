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

function splitHostPort(authority: string): { host: string; port?: number } {
  const a = authority.replace(/^[^@]*@/, '');
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    const host = end > 0 ? a.slice(1, end) : a;
    const portText = end > 0 && a[end + 1] === ':' ? a.slice(end + 2) : '';
    return portText && /^\d{1,5}$/.test(portText) ? { host, port: Number(portText) } : { host };
  }
  const colon = a.lastIndexOf(':');
  if (colon > 0 && /^\d{1,5}$/.test(a.slice(colon + 1))) return { host: a.slice(0, colon), port: Number(a.slice(colon + 1)) };
  return { host: a };
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
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)/.exec(target);
  if (scheme) {
    authority = scheme[2];
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
      ev.destination = { host: p.host, port: p.port ?? (/^https:/i.test(p.url) || p.method === 'CONNECT' ? 443 : 80) };
    }
  }
  return ev;
}
