// A blocked INBOUND stanza over the HTTP carriers is dropped for the client
// and bounced to its remote sender as a policy-violation error, as the TCP
// session does: over WebSocket in a masked frame of ours toward the server,
// over BOSH at the end of the client's next request body of that session
// (tunnel and forwarded door). The server counts the bounce (XEP-0198), so
// the h it acks is translated back into the client's numbering. Errors and
// stanzas without a from are never bounced (no loops).
import fc from 'fast-check';
import YAML from 'yaml';
import { buildFrame, ForwardedIm, WsReader, type WsFrame } from '../../../../src/protocols/http';
import { parseElement } from '../../../../src/protocols/xmpp';
import { resumptions } from '../../../../src/protocols/xmpp/resumption';
import { parsePolicy } from '../../../../src/policy';
import type { SessionContext } from '../../../../src/protocols/types';
import { BOSH, POLICY, everySplit, play, plain64, Harness, type Step, WS_UPGRADE, WS_SWITCHED, BOSH_CREATE, BOSH_CREATED, boshWrap, boshResp, boshPost, boshOk, httpBodies } from './harness';

const SM = `xmlns='urn:xmpp:sm:3'`;
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const UPGRADE = WS_UPGRADE;
const SWITCHED = WS_SWITCHED;
const OPEN = `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='imgate.test' version='1.0'/>`;
const AUTH = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain64('alice', 'pw')}</auth>`;

function cframe(text: string, opcode = 1): Buffer {
  const p = Buffer.from(text);
  const key = Buffer.from([9, 8, 7, 6]);
  const ext = p.length < 126 ? 0 : 2;
  const h = Buffer.alloc(2 + ext + 4);
  h[0] = 0x80 | opcode;
  h[1] = 0x80 | (ext ? 126 : p.length);
  if (ext) h.writeUInt16BE(p.length, 2);
  key.copy(h, 2 + ext);
  return Buffer.concat([h, Buffer.from(p.map((b, i) => b ^ (key[i % 4] as number)))]);
}
const sframe = (text: string): Buffer => buildFrame(1, Buffer.from(text), false);

/** Frames one end read (the client -> server ones must be masked, or the reader fails). */
function frames(side: 'c2s' | 's2c', b: Buffer): WsFrame[] {
  const out: WsFrame[] = [];
  const r = new WsReader(side, { frame: (_s, f) => out.push(f), fail: (x) => { throw new Error(x); } }, 1 << 20);
  r.push(b);
  return out;
}
const texts = (side: 'c2s' | 's2c', b: Buffer): string[] => frames(side, b).filter((f) => f.opcode === 1).map((f) => f.payload.toString());
const toServer = (h: Harness, from = 0): string[] => texts('c2s', Buffer.concat(h.toServer).subarray(UPGRADE.length)).slice(from);
const toClient = (h: Harness, from = 0): string[] => texts('s2c', Buffer.concat(h.toClient).subarray(SWITCHED.length)).slice(from);

const out = (id: string, text: string): string => `<message xmlns='jabber:client' to='bob@imgate.test' type='chat' id='${id}'><body>${text}</body></message>`;
const inb = (id: string, text: string, extra = ''): string =>
  `<message xmlns='jabber:client' from='bob@imgate.test/b' to='alice@imgate.test/w' type='chat' id='${id}'${extra}><body>${text}</body></message>`;
const pong = (id: string): string => `<iq xmlns='jabber:client' type='result' id='${id}' from='imgate.test' to='alice@imgate.test/w'/>`;
/** The bounce bob's server must get for his banned message `id`. */
const bounce = (id: string): string =>
  `<message xmlns='jabber:client' type='error' id='${id}' to='bob@imgate.test/b'><error type='modify'><policy-violation xmlns='${STANZAS}'/>` +
  `<text xmlns='${STANZAS}'>Message blocked by imgate policy (rule no-falcon)</text></error></message>`;

function wsLogin(smId: string | null): Step[] {
  const steps: Step[] = [
    ['c2s', UPGRADE],
    ['s2c', SWITCHED],
    ['c2s', Buffer.concat([cframe(OPEN), cframe(AUTH)])],
    ['s2c', sframe(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)],
  ];
  if (smId !== null) {
    steps.push(['c2s', cframe(`<enable ${SM} resume='true'/>`)], ['s2c', sframe(`<enabled ${SM} id='${smId}' resume='true' max='300'/>`)]);
  }
  return steps;
}

/** Same outcome at every cut (frames we mask carry a random key, so texts are compared). */
function everySplitWs(steps: Step[]): Harness {
  const whole = play(steps, null);
  const longest = Math.max(...steps.map(([, d]) => d.length));
  for (let cut = 1; cut < longest; cut += 5) {
    const h = play(steps, cut);
    expect([toServer(h), toClient(h), h.closed]).toEqual([toServer(whole), toClient(whole), whole.closed]);
  }
  return whole;
}

afterAll(() => resumptions.clear());

describe('http: a blocked inbound stanza is bounced to its sender (WebSocket)', () => {
  it('without XEP-0198: dropped for the client, one masked error frame to the server, nothing else changes', () => {
    const steps: Step[] = [...wsLogin(null), ['s2c', sframe(inb('i1', 'hi'))], ['s2c', sframe(inb('bad1', 'project falcon news'))], ['s2c', sframe(inb('i2', 'after'))], ['c2s', cframe(out('o1', 'hello'))]];
    const h = everySplitWs(steps);
    expect(h.closed).toBeNull();
    expect(toClient(h, 1)).toEqual([inb('i1', 'hi'), inb('i2', 'after')]);
    // Exactly one bounce, in its own frame, before what the client sends next.
    expect(toServer(h, 2)).toEqual([bounce('bad1'), out('o1', 'hello')]);
    const raw = frames('c2s', Buffer.concat(h.toServer).subarray(UPGRADE.length));
    expect(raw.every((f) => f.fin && (f.raw[1] as number) >= 0x80)).toBe(true);
    expect(h.events.filter((e) => e.verdict.action === 'block').map((e) => [e.draft.side, e.draft.peer, e.draft.text])).toEqual([['s2c', 'bob@imgate.test', 'project falcon news']]);
  });

  it('no bounce for an error stanza, nor for a stanza without a from; presence is only dropped', () => {
    const errIn = `<message xmlns='jabber:client' from='bob@imgate.test/b' type='error' id='e1'><body>project falcon</body><error type='cancel'><item-not-found xmlns='${STANZAS}'/></error></message>`;
    const noFrom = `<message xmlns='jabber:client' to='alice@imgate.test/w' type='chat' id='nf'><body>project falcon</body></message>`;
    const steps: Step[] = [...wsLogin(null), ['s2c', sframe(errIn)], ['s2c', sframe(noFrom)], ['s2c', sframe(inb('i1', 'hi'))]];
    const h = everySplitWs(steps);
    // An error is never decided (it passes as it is): answering it could loop between two gateways.
    expect(toClient(h, 1)).toEqual([errIn, inb('i1', 'hi')]);
    expect(toServer(h, 2)).toEqual([]);
  });

  it('after the client\'s <close/> nothing more is sent on its behalf', () => {
    const steps: Step[] = [...wsLogin(null), ['c2s', cframe(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`)], ['s2c', sframe(inb('bad1', 'project falcon'))]];
    const h = everySplitWs(steps);
    expect(toServer(h, 2)).toEqual([`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`]);
    expect(toClient(h, 1)).toEqual([]);
  });

  it('with XEP-0198: the server counts the bounce, its h reaches the client in the client\'s numbering', () => {
    const steps: Step[] = [
      ...wsLogin('wb-1'),
      ['c2s', cframe(out('o1', 'hello'))],
      ['s2c', sframe(inb('bad1', 'project falcon news'))],
      ['s2c', sframe(inb('i1', 'ok'))],
      ['c2s', cframe(out('o2', 'again'))],
      // The server got o1, bounce, o2 = 3; the client sent 2.
      ['s2c', sframe(`<a ${SM} h='3'/>`)],
      // The client handled i1 = 1; the server sent bad1, i1 = 2.
      ['c2s', cframe(`<a ${SM} h='1'/>`)],
    ];
    const h = everySplitWs(steps);
    expect(h.closed).toBeNull();
    expect(toServer(h, 3)).toEqual([out('o1', 'hello'), bounce('bad1'), out('o2', 'again'), `<a ${SM} h='2'/>`]);
    expect(toClient(h, 2)).toEqual([inb('i1', 'ok'), `<a ${SM} h='2'/>`]);
  });
});

const CREATE = BOSH_CREATE;
const CREATED = BOSH_CREATED;
const wrap = boshWrap;
const resp = boshResp;
const post = boshPost;
const ok = boshOk;

const bodies = httpBodies;

function boshLogin(sm: boolean): Step[] {
  const steps: Step[] = [
    ['c2s', post(CREATE)],
    ['s2c', ok(CREATED)],
    ['c2s', post(wrap(1001, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain64('alice', 'pw')}</auth>`))],
    ['s2c', ok(resp(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`))],
  ];
  if (sm) steps.push(['c2s', post(wrap(1002, `<enable ${SM}/>`))], ['s2c', ok(resp(`<enabled ${SM}/>`))]);
  return steps;
}

describe('http: a blocked inbound stanza is bounced to its sender (BOSH in a tunnel)', () => {
  it('without XEP-0198: cut from the response, the bounce rides once at the end of the next request (an empty body opened)', () => {
    const steps: Step[] = [
      ...boshLogin(false),
      ['c2s', post(wrap(1002, ''))],
      ['s2c', ok(resp(inb('i1', 'hi') + inb('bad1', 'project falcon news')))],
      ['c2s', post(wrap(1003, ''))],
      ['s2c', ok(resp(''))],
      ['c2s', post(wrap(1004, out('o1', 'hello')))],
      ['s2c', ok(resp(''))],
    ];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    expect(bodies(h.clientGot())[2]).toBe(resp(inb('i1', 'hi')));
    const up = bodies(h.serverGot());
    expect(up.slice(2)).toEqual([wrap(1002, ''), wrap(1003, bounce('bad1')), wrap(1004, out('o1', 'hello'))]);
    expect(h.serverGot()).toContain(`Content-Length: ${Buffer.byteLength(wrap(1003, bounce('bad1')))}\r\n`);
  });

  it('not in a restart or terminate body: the next ordinary request carries it; errors are not bounced', () => {
    const errIn = `<message xmlns='jabber:client' from='bob@imgate.test/b' type='error' id='e1'><body>project falcon</body></message>`;
    const steps: Step[] = [
      ...boshLogin(false),
      ['c2s', post(wrap(1002, ''))],
      ['s2c', ok(resp(inb('bad1', 'project falcon') + errIn))],
      ['c2s', post(wrap(1003, '', ` xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`))],
      ['s2c', ok(resp(''))],
      ['c2s', post(wrap(1004, out('o1', 'x')))],
      ['s2c', ok(resp(''))],
    ];
    const h = everySplit(steps);
    const up = bodies(h.serverGot());
    expect(up[3]).toBe(wrap(1003, '', ` xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`));
    expect(up[4]).toBe(wrap(1004, out('o1', 'x') + bounce('bad1')));
    expect(bodies(h.clientGot())[2]).toBe(resp(errIn));
  });

  it('with XEP-0198: the server\'s h counts the bounce, the client reads its own count', () => {
    const steps: Step[] = [
      ...boshLogin(true),
      ['c2s', post(wrap(1003, out('o1', 'hi')))],
      ['s2c', ok(resp(inb('bad1', 'project falcon') + inb('i1', 'ok')))],
      ['c2s', post(wrap(1004, out('o2', 'again') + `<r ${SM}/>`))],
      // Server got o1, o2, bounce = 3.
      ['s2c', ok(resp(`<a ${SM} h='3'/>`))],
      ['c2s', post(wrap(1005, `<a ${SM} h='1'/>`))],
      ['s2c', ok(resp(''))],
    ];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    const up = bodies(h.serverGot());
    expect(up[4]).toBe(wrap(1004, out('o2', 'again') + `<r ${SM}/>` + bounce('bad1')));
    // Client handled i1 = 1; the server sent bad1, i1 = 2.
    expect(up[5]).toBe(wrap(1005, `<a ${SM} h='2'/>`));
    expect(bodies(h.clientGot())[4]).toBe(resp(`<a ${SM} h='2'/>`));
  });
});

describe('http: a blocked inbound stanza is bounced to its sender (BOSH forwarded by the HTTP door)', () => {
  it('the bounce rides in the next request of the same sid, not of another', () => {
    const compiled = parsePolicy(YAML.parse(POLICY), null).compiled;
    const nop = (): void => undefined;
    const ctx: SessionContext = {
      conn: 'f1',
      destination: { host: '127.0.0.1', port: 5280 },
      options: { starttls: 'pass', maxUnitBytes: 65536 },
      decide: (d) => compiled.evaluate({ id: 'e', time: 0, conn: 'f1', door: 'http', groups: [], kind: d.kind, text: d.text, direction: d.side === 'c2s' ? 'out' : 'in' }),
      redact: (t, v) => compiled.redact(t, v),
      log: { debug: nop, info: nop, warn: nop, error: nop },
    };
    const fw = new ForwardedIm(ctx);
    const xchg = (reqBody: string, respBody: string): [string, string] => {
      const x = fw.exchange('POST', '/http-bind', { 'content-type': 'text/xml' });
      if (x === undefined) throw new Error('not IM');
      const r = x.request(Buffer.from(reqBody)).toString();
      expect(x.holdResponse(200, {})).toBe(true);
      return [r, x.response(Buffer.from(respBody)).toString()];
    };
    const other = (b: string): string => b.replace(/sid='s9'/g, "sid='s7'");
    xchg(CREATE, CREATED);
    xchg(other(CREATE), other(CREATED));
    expect(xchg(wrap(1001, ''), resp(inb('bad1', 'project falcon')))).toEqual([wrap(1001, ''), `<body xmlns='${BOSH}' sid='s9'></body>`]);
    // Another session's request does not carry it.
    expect(xchg(other(wrap(5001, '')), other(resp('')))[0]).toBe(other(wrap(5001, '')));
    expect(xchg(wrap(1002, ''), resp(''))[0]).toBe(wrap(1002, bounce('bad1')));
    expect(xchg(wrap(1003, ''), resp(''))[0]).toBe(wrap(1003, ''));
  });
});

// Both XEP-0198 peers around the BOSH carrier, one request/response exchange
// per step. In any sequence of sends (banned or not, either way) and acks,
// every h a peer reads must equal its own count: the server's h counts our
// pings and bounces, the client's counts our errors and misses what we cut.
describe('http: bounces with XEP-0198 over BOSH, any interleaving (model)', () => {
  type Op = 'c-ok' | 'c-bad' | 's-ok' | 's-bad' | 'c-ack' | 's-ack';
  const stanzasOf = (body: string): string[] => {
    const el = parseElement(body);
    return (el?.children ?? []).map((c) => body.slice(c.start, c.end));
  };
  it('every translated h equals the other peer\'s own count; each banned inbound message bounced once', () => {
    let checked = 0;
    fc.assert(
      fc.property(fc.array(fc.constantFrom<Op>('c-ok', 'c-bad', 's-ok', 's-bad', 'c-ack', 's-ack'), { minLength: 1, maxLength: 40 }), (ops) => {
        const h = new Harness();
        for (const [s, d] of boshLogin(true)) h.session.push(s, Buffer.from(d as string, 'latin1'));
        let cSent = 0;
        let cHandled = 0;
        let sRecv = 0;
        let sSent = 0;
        let bounces = 0;
        let sBad = 0;
        let upSeen = bodies(h.serverGot()).length;
        let downSeen = bodies(h.clientGot()).length;
        let rid = 1003;
        const checks: Array<[number, number]> = [];
        let n = 0;
        for (const op of ops) {
          n++;
          const req = op === 'c-ok' || op === 'c-bad' ? out(`c${n}`, op === 'c-bad' ? 'project falcon' : 'hi') : op === 'c-ack' ? `<a ${SM} h='${cHandled}'/>` : '';
          if (op === 'c-ok' || op === 'c-bad') cSent++;
          h.session.push('c2s', Buffer.from(post(wrap(rid++, req)), 'latin1'));
          // The server reads the request as forwarded.
          const pongs: string[] = [];
          for (const x of stanzasOf(bodies(h.serverGot())[upSeen++] as string)) {
            if (/^<(message|iq|presence)/.test(x)) {
              sRecv++;
              if (/type='error'/.test(x)) bounces++;
              const ping = /^<iq [^>]*type='get' id='([^']+)'/.exec(x);
              if (ping) pongs.push(pong(ping[1] as string));
            } else if (x.startsWith('<a ')) checks.push([Number(/h='(\d+)'/.exec(x)?.[1]), sSent]);
          }
          let inner = pongs.join('');
          sSent += pongs.length;
          if (op === 's-ok' || op === 's-bad') {
            sSent++;
            if (op === 's-bad') sBad++;
            inner += inb(`s${n}`, op === 's-bad' ? 'project falcon' : 'hi');
          } else if (op === 's-ack') inner += `<a ${SM} h='${sRecv}'/>`;
          h.session.push('s2c', Buffer.from(ok(resp(inner)), 'latin1'));
          for (const x of stanzasOf(bodies(h.clientGot())[downSeen++] as string)) {
            if (/^<(message|iq|presence)/.test(x)) cHandled++;
            else if (x.startsWith('<a ')) checks.push([Number(/h='(\d+)'/.exec(x)?.[1]), cSent]);
          }
        }
        // One last request carries any bounce still owed.
        h.session.push('c2s', Buffer.from(post(wrap(rid++, '')), 'latin1'));
        for (const x of stanzasOf(bodies(h.serverGot())[upSeen++] as string)) if (/type='error'/.test(x)) bounces++;
        expect(h.closed).toBeNull();
        expect(bounces).toBe(sBad);
        for (const [got, want] of checks) expect(got).toBe(want);
        checked += checks.length;
      }),
      { numRuns: 120 },
    );
    expect(checked).toBeGreaterThan(50);
  });
});
