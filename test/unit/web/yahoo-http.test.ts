// Yahoo! Messenger's HTTP mode on the ICAP door: REQMOD/RESPMOD of POST
// /notify/ bodies (scripted from the sources in src/protocols/ymsg/http.ts:
// no capture or server exists). One YMSG session per client and session id.
import { harness, imEvents, modifiedBody, reqmodRequest, respmodRequest } from './helpers';
import { hear, login, notifyBody, say, ymsg, AUTH, MESSAGE } from '../protocols/http/yahoo-ymsg';

const POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-banned', when: { kind: 'message', text_matches: '(?i)\\bbanana-plan\\b' }, then: 'block' },
    { id: 'no-mallory', when: { kind: 'login', account: 'mallory*' }, then: 'block' },
  ],
};
const URL = 'http://shttp.msg.yahoo.com/notify/';
const H: Array<[string, string]> = [['Content-Type', 'application/octet-stream']];
const SID = 0x5a5a0001;

describe('Yahoo HTTP (/notify) on the ICAP door', () => {
  test('login, allowed message unchanged, banned message cut; the client hears "not sent" in its next response', async () => {
    const h = harness(POLICY);
    expect(await h.reqmod.handle(reqmodRequest({ url: URL, headers: H, body: login('alice_y') }))).toEqual({ kind: 'allow' });
    const authed = notifyBody(ymsg(AUTH, SID, [[1, 'alice_y']]));
    expect(await h.respmod.handle(respmodRequest({ method: 'POST', url: URL, headers: H, body: authed }))).toEqual({ kind: 'allow' });
    const ok = say(SID, 'alice_y', 'bob_y', 'hello');
    expect(await h.reqmod.handle(reqmodRequest({ url: URL, headers: H, body: ok }))).toEqual({ kind: 'allow' });
    const v = await h.reqmod.handle(reqmodRequest({ url: URL, headers: H, body: Buffer.concat([ok, say(SID, 'alice_y', 'bob_y', 'the banana-plan')]) }));
    expect(modifiedBody(v).equals(ok)).toBe(true);
    const poll = modifiedBody(await h.respmod.handle(respmodRequest({ method: 'POST', url: URL, headers: H, body: notifyBody() })));
    expect(poll.readUInt16LE(0)).toBe(1);
    expect(poll.readUInt16BE(4 + 10)).toBe(MESSAGE);
    expect(poll.readUInt32BE(4 + 12)).toBe(2);
    const inbound = await h.respmod.handle(respmodRequest({ method: 'POST', url: URL, headers: H, body: notifyBody(hear(SID, 'bob_y', 'alice_y', 'banana-plan too'), hear(SID, 'bob_y', 'alice_y', 'bye')) }));
    const inBody = modifiedBody(inbound);
    expect(inBody.includes('banana')).toBe(false);
    expect(inBody.readUInt16LE(0)).toBe(1);
    expect(imEvents(h).map((e) => [e.protocol, e.app, e.kind, e.account, e.peer, e.text, e.action])).toEqual([
      ['ymsg', 'yahoo-http', 'login', 'alice_y', undefined, undefined, 'allow'],
      ['ymsg', 'yahoo-http', 'message', 'alice_y', 'bob_y', 'hello', 'allow'],
      ['ymsg', 'yahoo-http', 'message', 'alice_y', 'bob_y', 'hello', 'allow'],
      ['ymsg', 'yahoo-http', 'message', 'alice_y', 'bob_y', 'the banana-plan', 'block'],
      ['ymsg', 'yahoo-http', 'message', 'alice_y', 'bob_y', 'banana-plan too', 'block'],
      ['ymsg', 'yahoo-http', 'message', 'alice_y', 'bob_y', 'bye', 'allow'],
    ]);
  });

  test('a refused login is answered 403 and never reaches the server', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ url: URL, headers: H, body: login('mallory_y') }));
    expect(v.kind).toBe('block');
    if (v.kind === 'block') expect(v.response.startLine).toBe('HTTP/1.1 403 Forbidden');
    expect(imEvents(h).map((e) => [e.kind, e.account, e.action])).toEqual([['login', 'mallory_y', 'block']]);
  });

  test('bodies that are not YMSG pass unread', async () => {
    const h = harness(POLICY);
    expect(await h.reqmod.handle(reqmodRequest({ url: URL, headers: H, body: 'banana-plan in plain text' }))).toEqual({ kind: 'allow' });
    expect(await h.respmod.handle(respmodRequest({ method: 'POST', url: URL, headers: H, body: 'xy' }))).toEqual({ kind: 'allow' });
    expect(imEvents(h)).toEqual([]);
  });
});
