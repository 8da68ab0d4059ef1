// The Encapsulated header (RFC 3507 §4.4.1): offsets of the encapsulated
// HTTP header blocks and of the (single) body, validated per method.
import { badRequest } from './errors';
import type { IcapMethod } from './types';

export type BodyKind = 'req-body' | 'res-body' | 'null-body' | 'opt-body';

export interface EncapsulatedLayout {
  /** Offset of the HTTP request head, -1 when absent. */
  reqHdr: number;
  /** Offset of the HTTP response head, -1 when absent. */
  resHdr: number;
  body: BodyKind;
  /** Offset of the body = total length of the header blocks. */
  bodyOffset: number;
}

const NULL_LAYOUT: EncapsulatedLayout = { reqHdr: -1, resHdr: -1, body: 'null-body', bodyOffset: 0 };

/** Layout used for OPTIONS requests that carry no Encapsulated header. */
export function nullLayout(): EncapsulatedLayout {
  return NULL_LAYOUT;
}

export function parseEncapsulated(value: string, method: IcapMethod, maxHeaderBytes: number): EncapsulatedLayout {
  let reqHdr = -1;
  let resHdr = -1;
  let body: BodyKind | null = null;
  let bodyOffset = 0;
  let last = -1;
  const parts = value.split(',');
  for (const raw of parts) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) throw badRequest(`Encapsulated: malformed entry ${JSON.stringify(part)}`);
    const name = part.slice(0, eq).trim().toLowerCase();
    const num = part.slice(eq + 1).trim();
    if (!/^\d{1,9}$/.test(num)) throw badRequest(`Encapsulated: bad offset for ${name}`);
    const off = Number(num);
    if (body !== null) throw badRequest('Encapsulated: entry after the body');
    if (last < 0 ? off !== 0 : off <= last) throw badRequest('Encapsulated: offsets must start at 0 and increase');
    last = off;
    switch (name) {
      case 'req-hdr':
        if (reqHdr >= 0 || resHdr >= 0) throw badRequest('Encapsulated: misplaced req-hdr');
        reqHdr = off;
        break;
      case 'res-hdr':
        if (resHdr >= 0) throw badRequest('Encapsulated: duplicate res-hdr');
        resHdr = off;
        break;
      case 'req-body':
      case 'res-body':
      case 'null-body':
      case 'opt-body':
        body = name;
        bodyOffset = off;
        break;
      default:
        throw badRequest(`Encapsulated: unknown entry ${JSON.stringify(name)}`);
    }
  }
  if (body === null) throw badRequest('Encapsulated: no body entry (req-body, res-body, null-body or opt-body)');
  if (bodyOffset > maxHeaderBytes) throw badRequest(`encapsulated headers exceed ${maxHeaderBytes} bytes`);
  const layout: EncapsulatedLayout = { reqHdr, resHdr, body, bodyOffset };
  checkMethod(layout, method);
  return layout;
}

function checkMethod(l: EncapsulatedLayout, method: IcapMethod): void {
  switch (method) {
    case 'REQMOD':
      if (l.resHdr >= 0 || l.body === 'res-body' || l.body === 'opt-body') throw badRequest('Encapsulated: illegal for REQMOD');
      break;
    case 'RESPMOD':
      if (l.body === 'req-body' || l.body === 'opt-body') throw badRequest('Encapsulated: illegal for RESPMOD');
      break;
    case 'OPTIONS':
      if (l.reqHdr >= 0 || l.resHdr >= 0 || (l.body !== 'null-body' && l.body !== 'opt-body')) {
        throw badRequest('Encapsulated: illegal for OPTIONS');
      }
      break;
  }
}
