// File-transfer offers inside one stanza: SI file transfer (XEP-0095/0096),
// IBB open (XEP-0047), SOCKS5 bytestreams (XEP-0065), HTTP upload slot
// requests (XEP-0363, :0 and the older draft), Jingle file transfer
// (XEP-0234), and out-of-band URLs (XEP-0066, message or iq).
import type { FileInfo } from '../../events/types';
import { attr, child, find, type XElement } from './element';

export interface FileOffer {
  via: 'si' | 'ibb' | 'socks5' | 'upload' | 'jingle' | 'oob';
  file: FileInfo;
}

const NS_SI = 'http://jabber.org/protocol/si';
const NS_SI_FT = 'http://jabber.org/protocol/si/profile/file-transfer';
const NS_IBB = 'http://jabber.org/protocol/ibb';
const NS_BS = 'http://jabber.org/protocol/bytestreams';
const NS_UPLOAD = ['urn:xmpp:http:upload:0', 'urn:xmpp:http:upload'];
const NS_JINGLE = 'urn:xmpp:jingle:1';

function size(v: string | undefined): number | undefined {
  if (v === undefined || !/^\s*\d{1,15}\s*$/.test(v)) return undefined;
  return Number(v);
}

function info(name: string | undefined, sz: number | undefined): FileInfo {
  const f: FileInfo = {};
  if (name !== undefined && name !== '') f.name = name;
  if (sz !== undefined) f.size = sz;
  return f;
}

function fromUrl(url: string): FileInfo {
  const path = url.split(/[?#]/)[0] ?? '';
  const last = path.slice(path.lastIndexOf('/') + 1);
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    /* keep it raw */
  }
  return info(name || url, undefined);
}

export function findOffer(stanza: XElement): FileOffer | null {
  const type = attr(stanza, 'type');
  if (type === 'error' || type === 'result') return null;
  if (stanza.local === 'iq') {
    const si = child(stanza, 'si', NS_SI);
    if (si) {
      const f = child(si, 'file', NS_SI_FT);
      return { via: 'si', file: f ? info(attr(f, 'name'), size(attr(f, 'size'))) : {} };
    }
    const open = child(stanza, 'open', NS_IBB);
    if (open) return { via: 'ibb', file: {} };
    const q = child(stanza, 'query', NS_BS);
    if (q && type === 'set' && child(q, 'streamhost', NS_BS)) return { via: 'socks5', file: {} };
    for (const ns of NS_UPLOAD) {
      const r = child(stanza, 'request', ns);
      if (r) {
        const name = attr(r, 'filename') ?? child(r, 'filename')?.text;
        return { via: 'upload', file: info(name, size(attr(r, 'size') ?? child(r, 'size')?.text)) };
      }
    }
    const j = child(stanza, 'jingle', NS_JINGLE);
    if (j && (attr(j, 'action') === 'session-initiate' || attr(j, 'action') === 'content-add')) {
      for (const content of j.children) {
        const d = child(content, 'description');
        if (d && d.ns.startsWith('urn:xmpp:jingle:apps:file-transfer:')) {
          const f = find(d, 'file');
          return { via: 'jingle', file: f ? info(child(f, 'name')?.text, size(child(f, 'size')?.text)) : {} };
        }
      }
    }
    const oob = child(stanza, 'query', 'jabber:iq:oob');
    if (oob) return { via: 'oob', file: fromUrl(child(oob, 'url')?.text ?? '') };
    return null;
  }
  if (stanza.local === 'message') {
    const x = child(stanza, 'x', 'jabber:x:oob');
    if (x) return { via: 'oob', file: fromUrl(child(x, 'url')?.text ?? '') };
    const open = child(stanza, 'open', NS_IBB);
    if (open) return { via: 'ibb', file: {} };
  }
  return null;
}
