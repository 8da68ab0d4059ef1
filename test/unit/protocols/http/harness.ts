// Drives an HTTP session the way the relay does (the real policy engine),
// recording what each end receives; `split` replays a conversation cut at
// every offset to prove the state machines do not depend on chunking.
import YAML from 'yaml';
import { parsePolicy } from '../../../../src/policy';
import type { Verdict } from '../../../../src/events/types';
import type { DissectorSession, EventDraft, InspectOptions, SessionContext, Side } from '../../../../src/protocols/types';
import { httpModule } from '../../../../src/protocols/http';

export const POLICY = `
default: allow
rules:
  - id: no-falcon
    when: { kind: [message], text_matches: ["(?i)project\\\\s+falcon"] }
    then: block
  - id: mask-cards
    when: { kind: [message], text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b"] }
    then: redact
  - id: banned-account
    when: { account: ["mallory@imgate.test", "mallory@hotmail.com"] }
    then: block
`;

export interface Recorded {
  draft: EventDraft;
  verdict: Verdict;
}

export class Harness {
  toServer: Buffer[] = [];
  toClient: Buffer[] = [];
  events: Recorded[] = [];
  closed: string | null = null;
  readonly session: DissectorSession;

  constructor(opts: Partial<InspectOptions> = {}, policy = POLICY) {
    const compiled = parsePolicy(YAML.parse(policy), null).compiled;
    const nop = (): void => undefined;
    const ctx: SessionContext = {
      conn: 't1',
      destination: { host: '127.0.0.1', port: 80 },
      options: { starttls: 'pass', maxUnitBytes: 65536, ...opts },
      decide: (draft) => {
        const ev = { id: 'e', time: 0, conn: 't1', door: 'socks5' as const, groups: [], kind: draft.kind, protocol: draft.protocol, app: draft.app, account: draft.account, peer: draft.peer, text: draft.text, direction: draft.side === 'c2s' ? ('out' as const) : ('in' as const) };
        const verdict = compiled.evaluate(ev);
        this.events.push({ draft, verdict });
        return verdict;
      },
      redact: (text, v) => compiled.redact(text, v),
      log: { debug: nop, info: nop, warn: nop, error: nop },
    };
    this.session = httpModule.create(ctx, {
      forward: (from: Side, data: Buffer) => (from === 'c2s' ? this.toServer : this.toClient).push(Buffer.from(data)),
      inject: (to: Side, data: Buffer) => (to === 'c2s' ? this.toClient : this.toServer).push(Buffer.from(data)),
      close: (reason: string) => {
        this.closed ??= reason;
      },
    });
  }

  client(s: string | Buffer): this {
    this.session.push('c2s', typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
    return this;
  }

  server(s: string | Buffer): this {
    this.session.push('s2c', typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
    return this;
  }

  serverGot(): string {
    return Buffer.concat(this.toServer).toString('latin1');
  }

  clientGot(): string {
    return Buffer.concat(this.toClient).toString('latin1');
  }

  summary(): Array<[string, string, string | undefined, string | undefined, string]> {
    return this.events.map((e) => [`${e.draft.protocol}/${e.draft.app ?? ''}`, e.draft.kind, e.draft.account, e.draft.text, e.verdict.action]);
  }
}

export type Step = ['c2s' | 's2c', string | Buffer];

/** Plays the steps, each step's bytes cut at `cut` (relative to that step). */
export function play(steps: Step[], cut: number | null, opts: Partial<InspectOptions> = {}): Harness {
  const h = new Harness(opts);
  for (const [side, data] of steps) {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (cut === null || cut <= 0 || cut >= b.length) h.session.push(side, b);
    else {
      h.session.push(side, b.subarray(0, cut));
      h.session.push(side, b.subarray(cut));
    }
  }
  return h;
}

/** Every cut of every step gives the same result as one push per step; returns that result. */
export function everySplit(steps: Step[], opts: Partial<InspectOptions> = {}): Harness {
  const whole = play(steps, null, opts);
  const longest = Math.max(...steps.map(([, d]) => d.length));
  for (let cut = 1; cut < longest; cut++) {
    const h = play(steps, cut, opts);
    expect([h.serverGot(), h.clientGot(), h.closed]).toEqual([whole.serverGot(), whole.clientGot(), whole.closed]);
    expect(h.summary()).toEqual(whole.summary());
  }
  // One byte at a time, too.
  const h = new Harness(opts);
  for (const [side, data] of steps) {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    for (let i = 0; i < b.length; i++) h.session.push(side, b.subarray(i, i + 1));
  }
  expect([h.serverGot(), h.clientGot(), h.closed]).toEqual([whole.serverGot(), whole.clientGot(), whole.closed]);
  return whole;
}

export function request(method: string, path: string, headers: Record<string, string>, body = ''): string {
  let s = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  if (body !== '' && !('Transfer-Encoding' in headers)) s += `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n`;
  return `${s}\r\n${body}`;
}

export function response(status: string, headers: Record<string, string>, body = ''): string {
  let s = `HTTP/1.1 ${status}\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  if (!('Transfer-Encoding' in headers)) s += `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n`;
  return `${s}\r\n${body}`;
}

export function chunked(body: string, size = 7): string {
  let s = '';
  for (let i = 0; i < body.length; i += size) {
    const part = body.slice(i, i + size);
    s += `${Buffer.byteLength(part, 'latin1').toString(16)}\r\n${part}\r\n`;
  }
  return `${s}0\r\n\r\n`;
}

/** Splits an HTTP message text into head and body. */
export function parts(msg: string): { head: string; body: string } {
  const i = msg.indexOf('\r\n\r\n');
  return { head: msg.slice(0, i + 4), body: msg.slice(i + 4) };
}

export const BOSH = 'http://jabber.org/protocol/httpbind';
export const XML = { 'Content-Type': 'text/xml; charset=utf-8' };

export function plain64(user: string, pw: string): string {
  return Buffer.from(`\0${user}\0${pw}`).toString('base64');
}

// ---- shared fixtures of the XMPP-over-HTTP tests (WebSocket upgrade, a BOSH session 's9') ----

export const WS_UPGRADE = request('GET', '/xmpp-websocket', {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Protocol': 'xmpp',
});
export const WS_SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n';

export const BOSH_CREATE = `<body rid='1000' to='imgate.test' xml:lang='en' wait='10' hold='1' ver='1.6' xmpp:version='1.0' xmlns='${BOSH}' xmlns:xmpp='urn:xmpp:xbosh'/>`;
export const BOSH_CREATED = `<body xmlns='${BOSH}' sid='s9' wait='10' requests='2' inactivity='60' hold='1' ver='1.6' from='imgate.test'/>`;
/** A request <body/> of session s9 around `inner` (`extra`: more attributes). */
export const boshWrap = (rid: number, inner: string, extra = ''): string =>
  inner === '' ? `<body rid='${rid}' sid='s9' xmlns='${BOSH}'${extra}/>` : `<body rid='${rid}' sid='s9' xmlns='${BOSH}'${extra}>${inner}</body>`;
/** A response <body/> of session s9 around `inner`. */
export const boshResp = (inner: string): string => (inner === '' ? `<body xmlns='${BOSH}' sid='s9'/>` : `<body xmlns='${BOSH}' sid='s9'>${inner}</body>`);
export const boshPost = (b: string): string => request('POST', '/http-bind', XML, b);
export const boshOk = (b: string): string => response('200 OK', XML, b);

/** Bodies of the HTTP messages in a byte string, in order. */
export function httpBodies(all: string): string[] {
  const outs: string[] = [];
  let rest = all;
  while (rest.length > 0) {
    const { head, body } = parts(rest);
    const len = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
    outs.push(body.slice(0, len));
    rest = body.slice(len);
  }
  return outs;
}
