// One YMSG connection: a framer per direction, events from the key/value
// pairs, verdicts applied per packet.
//
// Keys (libpurple yahoo.c / yahoo_filexfer.c):
//   AUTH 0x57 (client): 1 = account;  AUTHRESP 0x54 (client): 0 and 1 = account
//   MESSAGE 0x06: client->server 1 (or 0) = own id, 5 = to, 14 = text;
//                 server->client 4 = from, 5 = to, 14 = text (an offline
//                 batch repeats 4 ... 14 per message), 97 = 1 when UTF-8
//   file services 0x46, 0x4D, 0xDC-0xDE: 27 = file name, 28 = size,
//                 5 = recipient (from the client), 4 = sender (to the client)
//
// Verdicts:
//   - a blocked message packet is dropped whole (YMSG has no sequence
//     numbers, so nothing else changes); when the local user sent it the
//     client gets a MESSAGE with status 2, which libpurple's
//     yahoo_process_message reports as "Your Yahoo! message did not get
//     sent." An inbound one just never arrives.
//   - redact rewrites each key-14 value and the header's payload length.
//   - a blocked file packet is dropped and nothing is injected: YMSG has no
//     generic "refused" reply a client understands for every file service
//     generation, so the offer simply goes unanswered and times out.
//   - a blocked login closes the connection.
import type { SessionContext, SessionOutput, Side } from '../types';
import { FramedSession, passes, type DraftBody, type UnitResult } from '../framing/framed-session';
import { YMSG_FORMAT } from './framer';
import {
  FILE_SERVICES,
  STATUS_MESSAGE_NOT_SENT,
  Service,
  YMSG_HEADER_LEN,
  decodeValue,
  readHeader,
  readPairs,
  str,
  writePacket,
  type Pair,
  type YmsgHeader,
} from './packet';

export const YMSG = 'ymsg';
const KEY_TEXT = 14;
const LABELS = { protocol: YMSG, app: 'yahoo' } as const;

const first = (pairs: readonly Pair[], ...keys: number[]): string | undefined => {
  for (const k of keys) {
    const p = pairs.find((x) => x.key === k);
    if (p && p.value.length > 0) return str(p.value);
  }
  return undefined;
};

export class YmsgSession extends FramedSession {
  constructor(ctx: SessionContext, out: SessionOutput) {
    super(ctx, out, YMSG_FORMAT, 'YMSG');
  }

  protected labels(): { protocol: string; app?: string } {
    return LABELS;
  }

  protected unit(side: Side, packet: Buffer): UnitResult {
    const h = readHeader(packet);
    const s = h.service;
    const relevant = s === Service.MESSAGE || s === Service.AUTH || s === Service.AUTHRESP || FILE_SERVICES.has(s);
    if (!relevant) return undefined;
    const pairs = readPairs(packet.subarray(YMSG_HEADER_LEN));
    if (side === 'c2s' && (s === Service.AUTH || s === Service.AUTHRESP)) {
      return this.login(first(pairs, s === Service.AUTH ? 1 : 0, 1), s === Service.AUTH ? 'auth' : 'authresp');
    }
    if (s === Service.MESSAGE) return this.message(side, h, pairs);
    if (FILE_SERVICES.has(s)) return this.file(side, h, pairs);
    return undefined;
  }

  private message(side: Side, h: YmsgHeader, pairs: Pair[]): UnitResult {
    // Server-side error reports (status 2) and the like carry no text to judge.
    if (side === 's2c' && h.status === STATUS_MESSAGE_NOT_SENT) return undefined;
    if (side === 'c2s' && this.account === undefined) {
      const me = first(pairs, 1, 0);
      if (me !== undefined) this.account = me;
    }
    const peerKey = side === 'c2s' ? 5 : 4;
    let peer: string | undefined;
    let blocked = false;
    let rewritten = false;
    const out: Pair[] = [];
    for (const pair of pairs) {
      if (pair.key === peerKey) peer = str(pair.value);
      if (pair.key !== KEY_TEXT || blocked) {
        out.push(pair);
        continue;
      }
      const { text, encoding } = decodeValue(pair.value);
      const d: DraftBody = { kind: 'message', text, detail: { service: h.service } };
      if (peer !== undefined) d.peer = peer;
      const v = this.ctx.decide(this.draft(side, d));
      if (passes(v)) out.push(pair);
      else if (v.action === 'redact') {
        out.push({ key: pair.key, value: Buffer.from(this.ctx.redact(text, v), encoding) });
        rewritten = true;
      } else blocked = true;
    }
    if (!blocked && !rewritten) return undefined;
    const packet = blocked ? undefined : writePacket(h, out);
    if (packet) return packet;
    if (side === 'c2s') this.notSent(h, peer);
    return null;
  }

  /** Tells the local client its message was not sent (status 2, see the header comment). */
  private notSent(h: YmsgHeader, peer: string | undefined): void {
    const pairs: Pair[] = [];
    if (this.account !== undefined) pairs.push({ key: 5, value: Buffer.from(this.account, 'utf8') });
    if (peer !== undefined) pairs.push({ key: 4, value: Buffer.from(peer, 'utf8') });
    const p = writePacket({ ...h, service: Service.MESSAGE, status: STATUS_MESSAGE_NOT_SENT }, pairs);
    if (p) this.out.inject('c2s', p);
  }

  private file(side: Side, h: YmsgHeader, pairs: Pair[]): null | undefined {
    const name = first(pairs, 27);
    if (name === undefined) return undefined;
    const sizeText = first(pairs, 28);
    const size = sizeText === undefined ? NaN : Number.parseInt(sizeText, 10);
    const file: { name: string; size?: number } = { name };
    if (Number.isFinite(size) && size >= 0) file.size = size;
    const d: DraftBody = { kind: 'file', file, detail: { service: h.service } };
    const peer = first(pairs, side === 'c2s' ? 5 : 4);
    if (peer !== undefined) d.peer = peer;
    const v = this.ctx.decide(this.draft(side, d));
    return passes(v) ? undefined : null;
  }
}
