// XEP-0198 over the HTTP carriers: a blocked client stanza becomes a hidden
// ping (the server's count of client stanzas never drifts), injected error
// stanzas and blocked inbound stanzas shift the server -> client numbering,
// and every h that crosses the gateway is translated; a WebSocket stream
// resumes on a new tunnel with the old tunnel's offsets.
import fc from 'fast-check';
import { buildFrame, WsReader, type WsFrame } from '../../../../src/protocols/http';
import { resumptions } from '../../../../src/protocols/xmpp/resumption';
import { BOSH, everySplit, play, plain64, Harness, type Step, WS_UPGRADE, WS_SWITCHED, BOSH_CREATE, BOSH_CREATED, boshResp, boshPost, boshOk, httpBodies } from './harness';

const SM = `xmlns='urn:xmpp:sm:3'`;
const UPGRADE = WS_UPGRADE;
const SWITCHED = WS_SWITCHED;
const OPEN = `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='imgate.test' version='1.0'/>`;
const AUTH = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain64('alice', 'pw')}</auth>`;

function cframe(text: string): Buffer {
  const p = Buffer.from(text);
  const key = Buffer.from([9, 8, 7, 6]);
  const ext = p.length < 126 ? 0 : 2;
  const h = Buffer.alloc(2 + ext + 4);
  h[0] = 0x81;
  h[1] = 0x80 | (ext ? 126 : p.length);
  if (ext) h.writeUInt16BE(p.length, 2);
  key.copy(h, 2 + ext);
  return Buffer.concat([h, Buffer.from(p.map((b, i) => b ^ (key[i % 4] as number)))]);
}
const sframe = (text: string): Buffer => buildFrame(1, Buffer.from(text), false);

function texts(side: 'c2s' | 's2c', b: Buffer): string[] {
  const out: WsFrame[] = [];
  const r = new WsReader(side, { frame: (_s, f) => out.push(f), fail: (x) => { throw new Error(x); } }, 1 << 20);
  r.push(b);
  return out.map((f) => f.payload.toString());
}
const toServer = (h: Harness, from = 0): string[] => texts('c2s', Buffer.concat(h.toServer).subarray(UPGRADE.length)).slice(from);
const toClient = (h: Harness, from = 0): string[] => texts('s2c', Buffer.concat(h.toClient).subarray(SWITCHED.length)).slice(from);

const out = (id: string, text: string): string => `<message xmlns='jabber:client' to='bob@imgate.test' type='chat' id='${id}'><body>${text}</body></message>`;
const inb = (id: string, text: string): string => `<message xmlns='jabber:client' from='bob@imgate.test/b' to='alice@imgate.test/w' type='chat' id='${id}'><body>${text}</body></message>`;
const pong = (id: string): string => `<iq xmlns='jabber:client' type='result' id='${id}' from='imgate.test' to='alice@imgate.test/w'/>`;

function wsSession(id: string): Step[] {
  return [
    ['c2s', UPGRADE],
    ['s2c', SWITCHED],
    ['c2s', Buffer.concat([cframe(OPEN), cframe(AUTH)])],
    ['s2c', sframe(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)],
    ['c2s', cframe(`<enable ${SM} resume='true'/>`)],
    ['s2c', sframe(`<enabled ${SM} id='${id}' resume='true' max='300'/>`)],
  ];
}

afterAll(() => resumptions.clear());

/** everySplit for WebSocket: frames we build toward the server carry a random mask, so the texts are compared. */
function everySplitWs(steps: Step[]): Harness {
  const whole = play(steps, null);
  const longest = Math.max(...steps.map(([, d]) => d.length));
  for (let cut = 1; cut < longest; cut += 3) {
    const h = play(steps, cut);
    expect([toServer(h), toClient(h), h.closed]).toEqual([toServer(whole), toClient(whole), whole.closed]);
  }
  return whole;
}

describe('http: XEP-0198 over WebSocket', () => {
  it('a blocked message becomes a hidden ping; acks are translated both ways', () => {
    const steps: Step[] = [
      ...wsSession('ws-a'),
      ['c2s', Buffer.concat([cframe(out('o1', 'hello')), cframe(out('bad', 'project falcon')), cframe(out('o2', 'after'))])],
      ['c2s', cframe(`<r ${SM}/>`)],
      ['s2c', sframe(`<a ${SM} h='3'/>`)],
      ['s2c', sframe(inb('i1', 'hi alice'))],
      ['s2c', sframe(pong('imgate-1'))],
      ['s2c', sframe(inb('i2', 'project falcon from bob'))],
      ['s2c', sframe(`<r ${SM}/>`)],
      ['c2s', cframe(`<a ${SM} h='2'/>`)],
      ['s2c', sframe(inb('i3', 'more'))],
      ['c2s', cframe(`<a ${SM} h='3'/>`)],
      // o1, ping, o2 and the bounce of i2 = 4.
      ['s2c', sframe(`<a ${SM} h='4'/>`)],
    ];
    const h = everySplitWs(steps);
    expect(h.closed).toBeNull();
    const up = toServer(h, 3);
    // The server got 3 stanzas for the client's 3: the banned one became our ping.
    expect(up.slice(0, 3)).toEqual([out('o1', 'hello'), `<iq xmlns='jabber:client' type='get' id='imgate-1' to='imgate.test'><ping xmlns='urn:xmpp:ping'/></iq>`, out('o2', 'after')]);
    expect(up.join('')).not.toMatch(/project falcon/i);
    // bob's banned i2 is bounced to him.
    expect(up[4]).toMatch(/^<message xmlns='jabber:client' type='error' id='i2' to='bob@imgate.test\/b'>.*policy-violation/);
    // Client handled error + i1 = 2; the server sent i1, the pong, i2 = 3 by then.
    expect(up[5]).toBe(`<a ${SM} h='3'/>`);
    // After i3: client 3 (error, i1, i3), server 4 (i1, pong, i2, i3).
    expect(up[6]).toBe(`<a ${SM} h='4'/>`);
    expect(up).toHaveLength(7);
    const down = toClient(h, 2);
    expect(down[0]).toMatch(/^<message xmlns='jabber:client' type='error' id='bad' from='bob@imgate.test'>.*policy-violation/);
    // The server's h counts our ping in place of the banned message: the client's numbering is the same;
    // the bounce it counted is taken off again (4 -> the client's 3).
    expect(down.slice(1)).toEqual([`<a ${SM} h='3'/>`, inb('i1', 'hi alice'), `<r ${SM}/>`, inb('i3', 'more'), `<a ${SM} h='3'/>`]);
  });

  it('a stream resumed on a new WebSocket tunnel gets h translated with the old tunnel\'s offsets', () => {
    const first = new Harness();
    for (const [s, d] of [
      ...wsSession('ws-r'),
      ['c2s', cframe(out('bad', 'project falcon'))],
      ['s2c', sframe(pong('imgate-1'))],
      ['s2c', sframe(inb('i2', 'project falcon from bob'))],
      ['s2c', sframe(inb('i3', 'hello'))],
    ] as Step[]) first.session.push(s, typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
    // Client has handled error + i3 = 2; the server sent pong, i2, i3 = 3. The tunnel dies here.
    const second = new Harness();
    const steps: Step[] = [
      ['c2s', UPGRADE],
      ['s2c', SWITCHED],
      ['c2s', Buffer.concat([cframe(OPEN), cframe(AUTH)])],
      ['s2c', sframe(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)],
      ['c2s', cframe(`<resume ${SM} previd='ws-r' h='2'/>`)],
      ['s2c', sframe(`<resumed ${SM} previd='ws-r' h='1'/>`)],
      ['s2c', sframe(inb('i4', 'welcome back'))],
      ['c2s', cframe(`<a ${SM} h='3'/>`)],
    ];
    for (const [s, d] of steps) second.session.push(s, typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
    expect(second.closed).toBeNull();
    const up = toServer(second, 2);
    expect(up[0]).toBe(`<resume ${SM} previd='ws-r' h='3'/>`);
    // Counting goes on from the stated h: i4 is the server's 4th, the client's 3rd.
    expect(up[1]).toBe(`<a ${SM} h='4'/>`);
    expect(toClient(second, 1)).toEqual([`<resumed ${SM} previd='ws-r' h='1'/>`, inb('i4', 'welcome back')]);
  });

  it('without <enable/> nothing is counted or rewritten (the blocked message is dropped, as before)', () => {
    const steps: Step[] = [...wsSession('x').slice(0, 4), ['c2s', cframe(out('bad', 'project falcon'))], ['s2c', sframe(`<a ${SM} h='7'/>`)]];
    const h = everySplit(steps);
    expect(toServer(h, 2)).toEqual([]);
    const down = toClient(h, 1);
    expect(down[0]).toMatch(/type='error' id='bad'/);
    expect(down[1]).toBe(`<a ${SM} h='7'/>`);
  });
});

const CREATE = BOSH_CREATE;
const CREATED = BOSH_CREATED;
const wrap = (rid: number, inner: string): string => `<body rid='${rid}' sid='s9' xmlns='${BOSH}'>${inner}</body>`;
const resp = boshResp;
const post = boshPost;
const ok = boshOk;

const bodies = httpBodies;

describe('http: XEP-0198 over BOSH (tunnel)', () => {
  it('the counters span the requests of a sid; the injected error counts where it is delivered', () => {
    const steps: Step[] = [
      ['c2s', post(CREATE)],
      ['s2c', ok(CREATED)],
      ['c2s', post(wrap(1001, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain64('alice', 'pw')}</auth>`))],
      ['s2c', ok(resp(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`))],
      ['c2s', post(wrap(1002, `<enable ${SM} resume='true'/>`))],
      ['s2c', ok(resp(`<enabled ${SM} id='b1' resume='true'/>`))],
      ['c2s', post(wrap(1003, out('o1', 'hi') + out('bad', 'project falcon')))],
      ['s2c', ok(resp(inb('i1', 'hey') + pong('imgate-1')))],
      ['c2s', post(wrap(1004, `<r ${SM}/>`))],
      ['s2c', ok(resp(`<a ${SM} h='2'/>`))],
      ['c2s', post(wrap(1005, `<a ${SM} h='2'/>`))],
      ['s2c', ok(resp(''))],
    ];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    const up = bodies(h.serverGot());
    expect(up[3]).toBe(wrap(1003, out('o1', 'hi') + `<iq xmlns='jabber:client' type='get' id='imgate-1' to='imgate.test'><ping xmlns='urn:xmpp:ping'/></iq>`));
    // Client got i1 + error = 2; the server sent i1 + pong = 2.
    expect(up[5]).toBe(wrap(1005, `<a ${SM} h='2'/>`));
    const down = bodies(h.clientGot());
    // The pong is cut, the error rides at the end of the same response.
    expect(down[3]).toMatch(new RegExp(`^<body xmlns='${BOSH}' sid='s9'>${inb('i1', 'hey')}<message xmlns='jabber:client' type='error' id='bad'[^]*</message></body>$`));
    expect(down[4]).toBe(resp(`<a ${SM} h='2'/>`));
  });

  it('an inbound banned message shifts the client\'s acks up by one', () => {
    const steps: Step[] = [
      ['c2s', post(CREATE)],
      ['s2c', ok(CREATED)],
      ['c2s', post(wrap(1001, `<enable ${SM}/>`))],
      ['s2c', ok(resp(`<enabled ${SM}/>` + inb('i1', 'project falcon news') + inb('i2', 'ok')))],
      ['c2s', post(wrap(1002, `<a ${SM} h='1'/>`))],
      ['s2c', ok(resp(''))],
    ];
    const h = everySplit(steps);
    expect(bodies(h.clientGot())[1]).toBe(resp(`<enabled ${SM}/>` + inb('i2', 'ok')));
    // bob's banned i1 is bounced to him at the end of alice's next request.
    expect(bodies(h.serverGot())[2]).toMatch(new RegExp(`^<body rid='1002' sid='s9' xmlns='${BOSH}'><a ${SM} h='2'/><message xmlns='jabber:client' type='error' id='i1' to='bob@imgate.test/b'>.*policy-violation.*</message></body>$`));
  });
});

// A model of both XEP-0198 peers around the WebSocket carrier: the server
// answers every ping at once; whoever is asked acks with its own count. In
// any order of sends (banned or not, either way) and acks, each ack crossing
// the gateway must equal exactly what the other peer sent so far (all of it
// was handled or suppressed by then), so neither peer ever sees an h that is
// too high (stream error) or too low (endless resends).
describe('http: XEP-0198 over WebSocket, any interleaving (model)', () => {
  type Op = 'c-ok' | 'c-bad' | 's-ok' | 's-bad' | 'c-ack' | 's-ack';
  it('every translated h equals the other peer\'s own count', () => {
    let checked = 0;
    fc.assert(
      fc.property(fc.array(fc.constantFrom<Op>('c-ok', 'c-bad', 's-ok', 's-bad', 'c-ack', 's-ack'), { minLength: 1, maxLength: 60 }), (ops) => {
        const h = new Harness();
        for (const [s, d] of wsSession(`m-${Math.random()}`)) h.session.push(s, typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
        let cSent = 0; // client stanzas since <enable/>
        let cHandled = 0; // stanzas the client got
        let sRecv = 0; // stanzas the server got (pings included)
        let sSent = 0; // stanzas the server sent (pongs included)
        // Frames each peer has read (the login and <enable/> exchange are not counted).
        let seenUp = toServer(h).length;
        let seenDown = toClient(h).length;
        const acksAtClient: Array<[number, number]> = [];
        const acksAtServer: Array<[number, number]> = [];
        const pump = (): void => {
          // Server side: count what arrived, answer pings, note acks.
          for (;;) {
            const up = toServer(h);
            if (seenUp >= up.length) break;
            const x = up[seenUp++] as string;
            if (/^<(message|iq|presence)/.test(x)) {
              sRecv++;
              const ping = /^<iq [^>]*type='get' id='([^']+)'/.exec(x);
              if (ping) {
                sSent++;
                h.session.push('s2c', sframe(pong(ping[1] as string)));
              }
            } else if (x.startsWith('<a ')) acksAtServer.push([Number(/h='(\d+)'/.exec(x)?.[1]), sSent]);
          }
          const down = toClient(h);
          for (; seenDown < down.length; seenDown++) {
            const x = down[seenDown] as string;
            if (/^<(message|iq|presence)/.test(x)) cHandled++;
            else if (x.startsWith('<a ')) acksAtClient.push([Number(/h='(\d+)'/.exec(x)?.[1]), cSent]);
          }
        };
        let n = 0;
        for (const op of ops) {
          n++;
          if (op === 'c-ok' || op === 'c-bad') {
            cSent++;
            h.session.push('c2s', cframe(out(`c${n}`, op === 'c-bad' ? 'project falcon' : 'hi')));
          } else if (op === 's-ok' || op === 's-bad') {
            sSent++;
            h.session.push('s2c', sframe(inb(`s${n}`, op === 's-bad' ? 'project falcon' : 'hi')));
          } else if (op === 'c-ack') {
            pump();
            h.session.push('c2s', cframe(`<a ${SM} h='${cHandled}'/>`));
          } else {
            pump();
            h.session.push('s2c', sframe(`<a ${SM} h='${sRecv}'/>`));
          }
          pump();
        }
        expect(h.closed).toBeNull();
        for (const [got, want] of acksAtServer) expect(got).toBe(want);
        for (const [got, want] of acksAtClient) expect(got).toBe(want);
        checked += acksAtServer.length + acksAtClient.length;
      }),
      { numRuns: 150 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});

describe('http: XEP-0198 over BOSH (tunnel), resumption in a new BOSH session', () => {
  it('a new sid on a new tunnel resumes with the old session\'s offsets', () => {
    const first = new Harness();
    for (const [s, d] of [
      ['c2s', post(CREATE)],
      ['s2c', ok(CREATED)],
      ['c2s', post(wrap(1001, `<enable ${SM} resume='true'/>`))],
      ['s2c', ok(resp(`<enabled ${SM} id='b-r' resume='true'/>` + inb('i1', 'project falcon news') + inb('i2', 'ok')))],
    ] as Step[]) first.session.push(s, Buffer.from(d as string, 'latin1'));
    // The client handled i2 only (1); the server sent 2. A new session (sid s10) resumes.
    const second = new Harness();
    const w10 = (rid: number, inner: string): string => `<body rid='${rid}' sid='s10' xmlns='${BOSH}'>${inner}</body>`;
    for (const [s, d] of [
      ['c2s', post(CREATE)],
      ['s2c', ok(CREATED.replace("sid='s9'", "sid='s10'"))],
      ['c2s', post(w10(2001, `<resume ${SM} previd='b-r' h='1'/>`))],
      ['s2c', ok(`<body xmlns='${BOSH}' sid='s10'><resumed ${SM} previd='b-r' h='0'/></body>`)],
    ] as Step[]) second.session.push(s, Buffer.from(d as string, 'latin1'));
    expect(bodies(second.serverGot())[1]).toBe(w10(2001, `<resume ${SM} previd='b-r' h='2'/>`));
    expect(bodies(second.clientGot())[1]).toBe(`<body xmlns='${BOSH}' sid='s10'><resumed ${SM} previd='b-r' h='0'/></body>`);
  });
});
