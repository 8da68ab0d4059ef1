// The real captures (../shared/captures/README.md), replayed through the XMPP
// dissector: the accounts, messages and SASL outcomes they contain.
import path from 'node:path';
import { replayCapture, type ReplayEvent } from '../../../../src/replay';
import { xmppModule } from '../../../../src/protocols/xmpp';

import { CAPTURES } from '../../../captures';
const JABBER = path.join(CAPTURES, 'ndpi-jabber.pcap');
const STARTTLS = path.join(CAPTURES, 'zeek-xmpp-starttls.pcap');

const pick = (e: ReplayEvent) => ({ conn: e.conn, kind: e.kind, side: e.side, account: e.account, peer: e.peer, text: e.text, detail: e.detail });

describe('replay ndpi-jabber.pcap (Pidgin -> ejabberd cs-xmpp.lan)', () => {
  let events: ReplayEvent[];
  beforeAll(async () => {
    events = (await replayCapture(JABBER, { modules: [xmppModule] })).events;
  });

  it('the two full logins of tom@cs-xmpp.lan (DIGEST-MD5) succeed', () => {
    const logins = events.filter((e) => e.kind === 'login').map(pick);
    expect(logins).toEqual([
      { conn: 'tcp-0', kind: 'login', side: 'c2s', account: 'tom@cs-xmpp.lan', peer: undefined, text: undefined, detail: { mechanism: 'DIGEST-MD5', sasl: 'auth' } },
      { conn: 'tcp-0', kind: 'login', side: 's2c', account: 'tom@cs-xmpp.lan', peer: undefined, text: undefined, detail: { mechanism: 'DIGEST-MD5', sasl: 'success' } },
      { conn: 'tcp-1', kind: 'login', side: 'c2s', account: 'tom@cs-xmpp.lan', peer: undefined, text: undefined, detail: { mechanism: 'DIGEST-MD5', sasl: 'auth' } },
      { conn: 'tcp-1', kind: 'login', side: 's2c', account: 'tom@cs-xmpp.lan', peer: undefined, text: undefined, detail: { mechanism: 'DIGEST-MD5', sasl: 'success' } },
      { conn: 'tcp-4', kind: 'login', side: 'c2s', account: 'tom@cs-xmpp.lan', peer: undefined, text: undefined, detail: { mechanism: 'DIGEST-MD5', sasl: 'auth' } },
      {
        conn: 'tcp-4',
        kind: 'login',
        side: 's2c',
        account: 'tom@cs-xmpp.lan',
        peer: undefined,
        text: undefined,
        detail: { mechanism: 'DIGEST-MD5', sasl: 'failure', condition: 'not-authorized', reason: 'Invalid username or password' },
      },
    ]);
  });

  it("the 'hey' message to chatback@cs-xmpp.lan and its echo", () => {
    const msgs = events.filter((e) => e.kind === 'message').map(pick);
    expect(msgs).toEqual([
      { conn: 'tcp-5', kind: 'message', side: 'c2s', account: 'tom@cs-xmpp.lan', peer: 'chatback@cs-xmpp.lan', text: 'hey', detail: { type: 'chat' } },
      { conn: 'tcp-5', kind: 'message', side: 's2c', account: 'tom@cs-xmpp.lan', peer: 'chatback@cs-xmpp.lan', text: 'hey', detail: { type: 'chat' } },
    ]);
  });

  it('the roster subscription of chatback@cs-xmpp.lan is a presence event', () => {
    const sub = events.find((e) => e.kind === 'presence' && e.detail?.type === 'subscribe');
    expect(pick(sub as ReplayEvent)).toMatchObject({ side: 'c2s', account: 'tom@cs-xmpp.lan', peer: 'chatback@cs-xmpp.lan' });
  });

  it('a blocked message is answered with an error and not forwarded', async () => {
    const r = await replayCapture(JABBER, {
      modules: [xmppModule],
      decide: (d) => (d.kind === 'message' && d.side === 'c2s' ? { action: 'block', rule: 'no-hey' } : { action: 'allow', rule: 'default' }),
    });
    const tcp5 = r.connections.find((c) => c.conn === 'tcp-5');
    expect(tcp5?.injected.c2s).toBeGreaterThan(0);
    // The echo never happens in a blocked world, but the capture still holds it: it is reported.
    expect(r.events.filter((e) => e.kind === 'message').map((e) => e.verdict.action)).toEqual(['block', 'allow']);
  });
});

describe('replay zeek-xmpp-starttls.pcap (jabber.ccc.de, STARTTLS required)', () => {
  it("starttls 'pass': the proceed is logged (tls=true) and the rest passes blind", async () => {
    const r = await replayCapture(STARTTLS, { modules: [xmppModule] });
    expect(r.events.map(pick)).toEqual([
      { conn: 'tcp-0', kind: 'connection', side: 's2c', account: undefined, peer: undefined, text: undefined, detail: { tls: true, starttls: 'pass' } },
    ]);
    expect(r.connections[0]?.protocol).toBe('xmpp');
  });

  it("starttls 'block' (and 'strip' of a required offer) refuses with a stream error and closes", async () => {
    for (const starttls of ['block', 'strip'] as const) {
      const r = await replayCapture(STARTTLS, { modules: [xmppModule], options: { starttls } });
      const c = r.connections[0];
      expect(c?.closed).toMatch(/STARTTLS refused/);
      expect(c?.injected.c2s).toBeGreaterThan(0);
    }
  });
});
