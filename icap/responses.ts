// Serialization of ICAP response heads (status line + ICAP headers). Heads
// are plain ASCII strings; every response carries the quoted ISTag and Date.
import { dateHeaderLine, statusLine } from './wire';
import type { IcapService } from './types';

const MAX_ISTAG = 30;

/** Keep an ISTag legal: no quotes/controls, at most 30 chars inside the quotes. */
export function sanitizeIstag(tag: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = tag.replace(/["\\\u0000-\u001f\u007f-\uffff]/g, '').slice(0, MAX_ISTAG);
  return clean === '' ? 'imgate' : clean;
}

export interface OptionsAdvert {
  serviceId: string;
  maxConnections: number;
  previewBytes: number;
  optionsTtlSeconds: number;
}

export class ResponseHeads {
  private lastTag: string | null = null;
  private tagLine = '';

  constructor(private readonly istag: () => string) {}

  /** "ISTag: "…"\r\n", re-quoted only when the tag changes. */
  istagLine(): string {
    const t = this.istag();
    if (t !== this.lastTag) {
      this.lastTag = t;
      this.tagLine = `ISTag: "${sanitizeIstag(t)}"\r\n`;
    }
    return this.tagLine;
  }

  /** 100 Continue (interim; carries ISTag as every response does). */
  continue100(): string {
    return statusLine(100) + this.istagLine() + '\r\n';
  }

  /** A response without encapsulated data (204 and errors). */
  simple(code: number, close: boolean): string {
    return (
      statusLine(code) + this.istagLine() + dateHeaderLine() + (close ? 'Connection: close\r\n' : '') +
      'Encapsulated: null-body=0\r\n\r\n'
    );
  }

  /** A 200 whose encapsulated part is described by `encapsulated`. */
  encap(close: boolean, encapsulated: string): string {
    return (
      statusLine(200) + this.istagLine() + dateHeaderLine() + (close ? 'Connection: close\r\n' : '') +
      'Encapsulated: ' + encapsulated + '\r\n\r\n'
    );
  }

  options(service: IcapService, advert: OptionsAdvert, close: boolean): string {
    return (
      statusLine(200) +
      `Methods: ${service.method}\r\n` +
      `Service: ${oneLine(service.description)}\r\n` +
      this.istagLine() +
      `Service-ID: ${oneLine(advert.serviceId)}\r\n` +
      `ServiceId: ${oneLine(advert.serviceId)}\r\n` +
      `Max-Connections: ${advert.maxConnections}\r\n` +
      `Options-TTL: ${advert.optionsTtlSeconds}\r\n` +
      `Preview: ${advert.previewBytes}\r\n` +
      'Transfer-Preview: *\r\n' +
      'Allow: 204\r\n' +
      'X-Include: X-Client-IP, X-Client-Username, X-Authenticated-User, X-Authenticated-Groups\r\n' +
      dateHeaderLine() +
      (close ? 'Connection: close\r\n' : '') +
      'Encapsulated: null-body=0\r\n\r\n'
    );
  }
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ');
}
