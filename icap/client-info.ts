// End-user identity from the ICAP headers Squid (or another client) adds.
import type { IcapClientInfo } from './types';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * draft-stecher-icap-subid says X-Authenticated-User is base64, but Squid
 * sends it plain unless icap_client_username_encode is on: decode only when
 * the result is printable UTF-8, else keep the text as sent.
 */
export function decodeMaybeBase64(value: string): string {
  const v = value.trim();
  if (v.length < 4 || v.length % 4 !== 0 || !BASE64.test(v)) return v;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(v, 'base64'));
  } catch {
    return v;
  }
  // eslint-disable-next-line no-control-regex
  if (decoded.length === 0 || /[\u0000-\u001f\u007f-\u009f]/.test(decoded)) return v;
  return decoded;
}

export function clientInfo(headers: ReadonlyMap<string, string>): IcapClientInfo {
  const info: IcapClientInfo = { groups: [] };
  const ip = headers.get('x-client-ip');
  if (ip !== undefined && ip.trim() !== '') info.ip = ip.trim();
  const plain = headers.get('x-client-username');
  const authed = headers.get('x-authenticated-user');
  if (plain !== undefined && plain.trim() !== '') info.user = plain.trim();
  else if (authed !== undefined && authed.trim() !== '') info.user = decodeMaybeBase64(authed);
  const groups = headers.get('x-authenticated-groups');
  if (groups !== undefined) {
    for (const part of groups.split(',')) {
      if (part.trim() === '') continue;
      // A single base64 value may itself decode to a comma-separated list.
      for (const g of decodeMaybeBase64(part).split(',')) {
        const t = g.trim();
        if (t !== '') info.groups.push(t);
      }
    }
  }
  return info;
}
