// MSN HTTP gateway bodies fed to an MSNP session (the HTTP side is wired
// by the lead): same events and verdicts as on a direct connection.
import { newEventId } from '../../../../src/events/id';
import type { ImEvent } from '../../../../src/events/types';
import { parsePolicy } from '../../../../src/policy/load';
import { PolicyStore } from '../../../../src/policy/store';
import { MsnGatewayInspector, parseGatewayUrl } from '../../../../src/protocols/msnp';
import type { EventDraft } from '../../../../src/protocols/types';
import { clientMsg, serverMsg, TEST_POLICY } from './harness';

function inspector(drafts: EventDraft[]): MsnGatewayInspector {
  const store = new PolicyStore(parsePolicy(TEST_POLICY, null));
  const nop = (): void => undefined;
  return new MsnGatewayInspector({
    conn: 'gw',
    destination: { host: '127.0.0.1', port: 80 },
    decide: (d) => {
      drafts.push(d);
      const ev: ImEvent = { id: newEventId(), time: 0, conn: 'gw', door: 'http', groups: [], kind: d.kind, protocol: d.protocol };
      if (d.account !== undefined) ev.account = d.account;
      if (d.text !== undefined) ev.text = d.text;
      return store.evaluate(ev);
    },
    redact: (t, v) => store.redact(t, v),
    options: { starttls: 'pass', maxUnitBytes: 65536 },
    log: { debug: nop, info: nop, warn: nop, error: nop },
  });
}

describe('msnp HTTP gateway', () => {
  it('parses gateway.dll URLs', () => {
    expect(parseGatewayUrl('/gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com')).toEqual({ action: 'open', server: 'NS', ip: 'messenger.hotmail.com' });
    expect(parseGatewayUrl('/gateway/gateway.dll?SessionID=1315231101.27478')).toEqual({ sessionId: '1315231101.27478' });
    expect(parseGatewayUrl('/index.html')).toBeNull();
  });

  it('bodies across requests keep one session: login, allowed text, blocked text with NAK, redacted inbound', () => {
    const drafts: EventDraft[] = [];
    const gw = inspector(drafts);
    const usr = Buffer.from('USR 1 alice@hotmail.com 123.456\r\nCAL 2 bob@hotmail.com\r\n');
    expect(gw.feed('c2s', usr).body.equals(usr)).toBe(true);
    gw.feed('s2c', Buffer.from('USR 1 OK alice@hotmail.com Alice\r\nCAL 2 RINGING 1\r\nJOI bob@hotmail.com Bob\r\n'));
    const ok = clientMsg(3, 'N', 'hello');
    const bad = clientMsg(4, 'N', 'project falcon');
    const r = gw.feed('c2s', Buffer.concat([ok, bad]));
    expect(r.body.equals(ok)).toBe(true);
    expect(r.toClient.toString()).toBe('NAK 4\r\n');
    const inbound = gw.feed('s2c', serverMsg('bob@hotmail.com', 'Bob', 'card 4111 1111 1111 1111'));
    expect(inbound.body.equals(serverMsg('bob@hotmail.com', 'Bob', 'card ****'))).toBe(true);
    expect(drafts.map((d) => [d.kind, d.side, d.account, d.peer, d.text])).toEqual([
      ['login', 'c2s', 'alice@hotmail.com', undefined, undefined],
      ['message', 'c2s', 'alice@hotmail.com', 'bob@hotmail.com', 'hello'],
      ['message', 'c2s', 'alice@hotmail.com', 'bob@hotmail.com', 'project falcon'],
      ['message', 's2c', 'alice@hotmail.com', 'bob@hotmail.com', 'card 4111 1111 1111 1111'],
    ]);
  });

  it('a banned login over the gateway: 911 for the client, nothing to the server, closed', () => {
    const gw = inspector([]);
    gw.feed('c2s', Buffer.from('VER 1 MSNP8 CVR0\r\n'));
    const r = gw.feed('c2s', Buffer.from('USR 3 TWN I mallory@hotmail.com\r\n'));
    expect(r.body.length).toBe(0);
    expect(r.toClient.toString()).toBe('911 3\r\n');
    expect(r.closed).toMatch(/blocked by policy/);
  });
});
