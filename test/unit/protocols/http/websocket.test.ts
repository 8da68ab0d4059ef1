// XMPP over WebSocket (RFC 7395) inside an HTTP tunnel: the upgrade, masked
// client frames, fragmentation with an interleaved ping, block and redact by
// rewriting frames, and the frame-level limits.
import { buildFrame, WsReader, type WsFrame } from '../../../../src/protocols/http';
import { everySplit, plain64, request, Harness, type Step, WS_UPGRADE, WS_SWITCHED } from './harness';

const UPGRADE = WS_UPGRADE;
const SWITCHED = WS_SWITCHED;

/** A masked client text frame with a fixed key (so splits compare equal). */
function cframe(text: string, opcode = 1, fin = true): Buffer {
  const p = Buffer.from(text);
  const key = Buffer.from([1, 2, 3, 4]);
  const ext = p.length < 126 ? 0 : 2;
  const h = Buffer.alloc(2 + ext + 4);
  h[0] = (fin ? 0x80 : 0) | opcode;
  h[1] = 0x80 | (ext ? 126 : p.length);
  if (ext) h.writeUInt16BE(p.length, 2);
  key.copy(h, 2 + ext);
  return Buffer.concat([h, Buffer.from(p.map((b, i) => b ^ (key[i % 4] as number)))]);
}
const sframe = (text: string) => buildFrame(1, Buffer.from(text), false);

/** Decodes every frame in a byte string (either direction). */
function frames(side: 'c2s' | 's2c', b: Buffer): WsFrame[] {
  const out: WsFrame[] = [];
  const r = new WsReader(side, { frame: (_s, f) => out.push(f), fail: (x) => { throw new Error(x); } }, 1 << 20);
  r.push(b);
  return out;
}

const OPEN = `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='imgate.test' version='1.0'/>`;
const AUTH = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain64('alice', 'pw')}</auth>`;
const msg = (t: string, id = 'w1') => `<message xmlns='jabber:client' to='bob@imgate.test' type='chat' id='${id}'><body>${t}</body></message>`;

function afterUpgrade(h: Harness): { toServer: Buffer; toClient: Buffer } {
  const s = Buffer.concat(h.toServer);
  const c = Buffer.concat(h.toClient);
  return { toServer: s.subarray(UPGRADE.length), toClient: c.subarray(SWITCHED.length) };
}

describe('http: XMPP over WebSocket', () => {
  it('login and allowed messages pass as the original frames; fragmented + ping', () => {
    const m = cframe(msg('hello over ws'));
    const text = msg('in two parts');
    const frag = Buffer.concat([cframe(text.slice(0, 30), 1, false), cframe('', 9), cframe(text.slice(30), 0, true)]);
    const steps: Step[] = [['c2s', UPGRADE], ['s2c', SWITCHED], ['c2s', Buffer.concat([cframe(OPEN), cframe(AUTH)])], ['s2c', sframe(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)], ['c2s', m], ['c2s', frag]];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    const sent = afterUpgrade(h).toServer;
    // the ping goes first (control frames may pass between fragments)
    expect(sent.equals(Buffer.concat([cframe(OPEN), cframe(AUTH), m, cframe('', 9), cframe(text.slice(0, 30), 1, false), cframe(text.slice(30), 0, true)]))).toBe(true);
    expect(h.summary()).toEqual([
      ['xmpp/websocket', 'login', 'alice@imgate.test', undefined, 'allow'],
      ['xmpp/websocket', 'message', 'alice@imgate.test', 'hello over ws', 'allow'],
      ['xmpp/websocket', 'message', 'alice@imgate.test', 'in two parts', 'allow'],
    ]);
  });

  it('a blocked message frame is dropped and the client gets an error frame; a redacted one is re-framed masked', () => {
    const steps: Step[] = [['c2s', UPGRADE], ['s2c', SWITCHED], ['c2s', cframe(OPEN)], ['c2s', cframe(msg('project falcon plans', 'bad'))], ['c2s', cframe(msg('card 4111 1111 1111 1111'))]];
    const h = everySplit(steps.slice(0, 4));
    const a = afterUpgrade(h);
    expect(frames('c2s', a.toServer).map((f) => f.payload.toString())).toEqual([OPEN]);
    const err = frames('s2c', a.toClient).map((f) => f.payload.toString());
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^<message xmlns='jabber:client' type='error' id='bad' from='bob@imgate.test'>.*policy-violation.*rule no-falcon/);

    const r = new Harness();
    for (const [s, d] of steps) r.session.push(s, typeof d === 'string' ? Buffer.from(d) : d);
    const out = frames('c2s', afterUpgrade(r).toServer);
    expect(out.map((f) => f.payload.toString())).toEqual([OPEN, msg('card ****')]);
    expect(r.summary().map((s) => s[4])).toEqual(['block', 'redact']);
  });

  it('inbound frames: redacted for the client, unmasked', () => {
    const inbound = `<message xmlns='jabber:client' from='bob@imgate.test/t' to='alice@imgate.test/x' type='chat'><body>4111 1111 1111 1111</body></message>`;
    const h = everySplit([['c2s', UPGRADE], ['s2c', SWITCHED], ['c2s', cframe(OPEN)], ['s2c', sframe(inbound)]]);
    const got = frames('s2c', afterUpgrade(h).toClient);
    expect(got.map((f) => f.payload.toString())).toEqual([inbound.replace('4111 1111 1111 1111', '****')]);
  });

  it('frame violations close the tunnel with a reason', () => {
    const base: Step[] = [['c2s', UPGRADE], ['s2c', SWITCHED]];
    const unmasked = Buffer.concat([Buffer.from([0x81, 3]), Buffer.from('abc')]);
    expect(everySplit([...base, ['c2s', unmasked]]).closed).toMatch(/client frame not masked/);
    const rsv = cframe('x');
    rsv[0] = (rsv[0] as number) | 0x40;
    expect(everySplit([...base, ['c2s', rsv]]).closed).toMatch(/RSV bits/);
    const big = Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    const h = everySplit([...base, ['c2s', big]], { maxUnitBytes: 4096 });
    expect(h.closed).toMatch(/exceeds 4096/);
    const cont = cframe('x', 0, true);
    expect(everySplit([...base, ['c2s', cont]]).closed).toMatch(/continuation frame without a message/);
  });

  it('the upgrade request loses Sec-WebSocket-Extensions; an upgrade to another protocol goes passthrough', () => {
    const withExt = UPGRADE.replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n');
    const h = new Harness().client(withExt);
    expect(h.serverGot()).toBe(UPGRADE);
    const other = request('GET', '/chat', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'mqtt' });
    const p = new Harness().client(other);
    expect(p.session.passthrough).toBe(true);
    expect(p.serverGot()).toBe(other);
  });
});
