// XMPP over BOSH (XEP-0124/0206): each HTTP body is one <body/> wrapper whose
// children are ordinary stanzas. The wrapper goes through the XMPP
// dissector's own tokenizer and element reader (byte offsets preserved), so
// messages and SASL logins come out exactly as on a TCP stream, each with the
// byte range of its text (redaction) and of its stanza (a blocked stanza is
// cut out and the rest of the wrapper still reaches the connection manager,
// which keeps BOSH's request-id sequence intact).
import { parseElement, XmlUnitTokenizer, type XElement } from '../protocols/xmpp';
import { authIdentity, bareJid } from '../protocols/xmpp';
import { WebBodyError } from './errors';
import type { Extraction, FoundMessage } from './extract';

export const BOSH_NS = 'http://jabber.org/protocol/httpbind';

function childNamed(el: XElement, local: string): XElement | undefined {
  for (const c of el.children) if (c.local === local) return c;
  return undefined;
}

function attrOf(el: XElement, key: string): string | undefined {
  return el.attrs.get(key)?.value;
}

/** The <body/> wrapper's session facts and where owed stanzas go in it. */
export interface BoshWrapper {
  sid?: string;
  to?: string;
  from?: string;
  type?: string;
  /** Insert [at, at) (or replace [at, end) for '<body/>') with `open` + stanzas + `close`. */
  insert: { at: number; end: number; open: string; close: string };
}

/** A top-level element of the wrapper that XEP-0198 cares about (byte range in the body). */
export interface BoshChild {
  /** 'sm' for a stream-management element (enable, enabled, resume, resumed, a, r, failed). */
  kind: 'stanza' | 'sm';
  local: string;
  start: number;
  end: number;
  /** iq id / type (the gateway's substitute pings are answered with an iq result). */
  id?: string;
  type?: string;
}

export interface BoshExtraction extends Extraction {
  /** Absent for an empty poll body. */
  wrapper?: BoshWrapper;
  /** Stanzas and stream-management elements of the wrapper, in order. */
  children?: BoshChild[];
  /** The body the offsets index (a reference, valid while the body is being decided). */
  source?: Buffer;
}

const NS_SM = 'urn:xmpp:sm:';

function childrenOf(root: XElement, offset: number): BoshChild[] {
  const out: BoshChild[] = [];
  for (const st of root.children) {
    const stanza = st.local === 'message' || st.local === 'presence' || st.local === 'iq';
    if (!stanza && !st.ns.startsWith(NS_SM)) continue;
    const c: BoshChild = { kind: stanza ? 'stanza' : 'sm', local: st.local, start: offset + st.start, end: offset + st.end };
    if (st.local === 'iq') {
      const id = attrOf(st, 'id');
      const type = attrOf(st, 'type');
      if (id !== undefined) c.id = id;
      if (type !== undefined) c.type = type;
    }
    out.push(c);
  }
  return out;
}

function wrapperFacts(el: XElement, offset: number, body: Buffer): BoshWrapper {
  const w: BoshWrapper = { insert: { at: offset + el.innerEnd, end: offset + el.innerEnd, open: '', close: '' } };
  const sid = attrOf(el, 'sid');
  const to = attrOf(el, 'to');
  const from = attrOf(el, 'from');
  const type = attrOf(el, 'type');
  if (sid !== undefined) w.sid = sid;
  if (to !== undefined) w.to = to;
  if (from !== undefined) w.from = from;
  if (type !== undefined) w.type = type;
  // '<body .../>': innerStart sits on the '/', so the tag is reopened around the stanzas.
  if (el.innerStart === el.innerEnd && body[offset + el.innerStart] === 0x2f) {
    w.insert = { at: offset + el.innerStart, end: offset + el.end, open: '>', close: `</${el.name}>` };
  }
  return w;
}

/** `out` = request body (client -> server), else a response body. */
export function extractBosh(body: Buffer, out: boolean, maxBytes: number): BoshExtraction {
  const result: BoshExtraction = { messages: [], files: [] };
  let wrapper: { el: XElement; offset: number } | null = null;
  let overflow = false;
  const tok = new XmlUnitTokenizer(
    {
      unit(kind, bytes, start, name) {
        if (kind !== 'stanza' || wrapper !== null || name.replace(/^.*:/, '') !== 'body') return;
        const el = parseElement(bytes.toString('latin1'));
        if (el !== null) wrapper = { el, offset: start < 0 ? 0 : start };
      },
      overflow() {
        overflow = true;
      },
    },
    maxBytes,
  );
  tok.push(body);
  if (overflow) throw new WebBodyError('limit', `BOSH body over ${maxBytes} bytes`);
  if (wrapper === null) {
    // An empty poll is legal; anything else is not BOSH.
    if (body.toString('latin1').trim() === '') return result;
    throw new WebBodyError('xml', 'no complete <body/> wrapper');
  }
  const { el: root, offset } = wrapper as { el: XElement; offset: number };
  result.wrapper = wrapperFacts(root, offset, body);
  result.children = childrenOf(root, offset);
  result.source = body;
  for (const st of root.children) {
    if (st.local === 'message') {
      const b = childNamed(st, 'body');
      if (b === undefined || b.text === '') continue;
      const msg: FoundMessage = {
        kind: 'message',
        text: b.text,
        spans: [{ start: offset + b.innerStart, end: offset + b.innerEnd, value: b.text, encoding: 'xml' }],
        stanza: { start: offset + st.start, end: offset + st.end },
      };
      const peer = attrOf(st, out ? 'to' : 'from');
      const account = attrOf(st, out ? 'from' : 'to');
      if (peer !== undefined) msg.peer = bareJid(peer);
      if (account !== undefined) msg.account = bareJid(account);
      result.messages.push(msg);
    } else if (st.local === 'auth' && out) {
      const who = authIdentity(attrOf(st, 'mechanism') ?? '', st.text);
      const login: FoundMessage = { kind: 'login', spans: [], stanza: { start: offset + st.start, end: offset + st.end } };
      if (who !== null) login.account = who;
      result.messages.push(login);
    }
  }
  return result;
}
