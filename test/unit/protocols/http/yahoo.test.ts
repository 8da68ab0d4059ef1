// Yahoo! Messenger's HTTP mode inside an HTTP tunnel (POST /notify/): request
// bodies are YMSG packets, response bodies a 4-byte prefix and packets. The
// bodies are scripted from what the sources say (see src/protocols/ymsg/http.ts).
import { everySplit, request, response, Harness, type Step } from './harness';
import { hear, login, notifyBody, say, ymsg, AUTH, MESSAGE } from './yahoo-ymsg';

const URL = 'http://shttp.msg.yahoo.com/notify/';
const OCTET = { 'Content-Type': 'application/octet-stream' };
const SID = 0x1234abcd;

const req = (body: Buffer): Buffer => Buffer.concat([Buffer.from(request('POST', URL, { ...OCTET, 'Content-Length': String(body.length) }), 'latin1'), body]);
const res = (body: Buffer): Buffer => Buffer.concat([Buffer.from(response('200 OK', { ...OCTET, 'Content-Length': String(body.length) }).replace(/Content-Length: \d+\r\n(?=\r\n)/, ''), 'latin1'), body]);

function bodyOf(wire: Buffer, n: number): Buffer {
  // The n-th message's body (0-based) in a stream of Content-Length messages.
  let at = 0;
  for (let i = 0; ; i++) {
    const end = wire.indexOf('\r\n\r\n', at);
    const head = wire.toString('latin1', at, end);
    const len = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? '0');
    if (i === n) return wire.subarray(end + 4, end + 4 + len);
    at = end + 4 + len;
  }
}

describe('http: Yahoo HTTP (/notify)', () => {
  it('login and an allowed message pass byte-identical; the account is in the events', () => {
    const steps: Step[] = [
      ['c2s', req(login('alice_y'))],
      ['s2c', res(notifyBody(ymsg(AUTH, SID, [[1, 'alice_y'], [94, 'challenge']])))],
      ['c2s', req(say(SID, 'alice_y', 'bob_y', 'hello bob'))],
      ['s2c', res(notifyBody(hear(SID, 'bob_y', 'alice_y', 'hi alice')))],
    ];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    expect(Buffer.concat(h.toServer).equals(Buffer.concat([steps[0]![1], steps[2]![1]] as Buffer[]))).toBe(true);
    expect(Buffer.concat(h.toClient).equals(Buffer.concat([steps[1]![1], steps[3]![1]] as Buffer[]))).toBe(true);
    expect(h.summary()).toEqual([
      ['ymsg/yahoo-http', 'login', 'alice_y', undefined, 'allow'],
      ['ymsg/yahoo-http', 'message', 'alice_y', 'hello bob', 'allow'],
      ['ymsg/yahoo-http', 'message', 'alice_y', 'hi alice', 'allow'],
    ]);
    expect(h.events.map((e) => e.draft.peer)).toEqual([undefined, 'bob_y', 'bob_y']);
  });

  it('a banned message is cut from its body (Content-Length fixed); the client hears "not sent" in the next response', () => {
    const ok = say(SID, 'alice_y', 'bob_y', 'lunch?');
    const steps: Step[] = [
      ['c2s', req(login('alice_y'))],
      ['s2c', res(notifyBody(ymsg(AUTH, SID, [[1, 'alice_y']])))],
      ['c2s', req(Buffer.concat([ok, say(SID, 'alice_y', 'bob_y', 'about project falcon')]))],
      ['s2c', res(notifyBody())],
    ];
    const h = everySplit(steps);
    const server = Buffer.concat(h.toServer);
    expect(server.includes('falcon')).toBe(false);
    expect(bodyOf(server, 1).equals(ok)).toBe(true);
    const last = bodyOf(Buffer.concat(h.toClient), 1);
    // Prefix count now 1: the injected MESSAGE with status 2 ("did not get sent").
    expect(last.readUInt16LE(0)).toBe(1);
    expect(last.toString('latin1', 4, 8)).toBe('YMSG');
    expect(last.readUInt16BE(4 + 10)).toBe(MESSAGE);
    expect(last.readUInt32BE(4 + 12)).toBe(2);
    expect(h.summary().map((r) => [r[3], r[4]])).toEqual([
      [undefined, 'allow'],
      ['lunch?', 'allow'],
      ['about project falcon', 'block'],
    ]);
  });

  it('a card number is masked in place: packet length and Content-Length follow, nothing else changes', () => {
    const steps: Step[] = [
      ['c2s', req(login('alice_y'))],
      ['s2c', res(notifyBody(ymsg(AUTH, SID, [[1, 'alice_y']])))],
      ['c2s', req(say(SID, 'alice_y', 'bob_y', 'card 4111 1111 1111 1111 ok'))],
    ];
    const h = everySplit(steps);
    expect(bodyOf(Buffer.concat(h.toServer), 1).equals(say(SID, 'alice_y', 'bob_y', 'card **** ok'))).toBe(true);
    expect(h.summary().at(-1)?.[4]).toBe('redact');
  });

  it('an inbound banned message never reaches the client; the prefix count follows', () => {
    const fine = hear(SID, 'bob_y', 'alice_y', 'see you');
    const steps: Step[] = [
      ['c2s', req(login('alice_y'))],
      ['s2c', res(notifyBody(ymsg(AUTH, SID, [[1, 'alice_y']]), hear(SID, 'bob_y', 'alice_y', 'project falcon plans'), fine))],
    ];
    const h = everySplit(steps);
    const body = bodyOf(Buffer.concat(h.toClient), 0);
    expect(body.includes('falcon')).toBe(false);
    expect(body.readUInt16LE(0)).toBe(2);
    expect(body.subarray(body.length - fine.length).equals(fine)).toBe(true);
  });

  it('a banned account is refused: its login never reaches the server, nor does anything after it', () => {
    const steps: Step[] = [
      ['c2s', req(login('mallory@hotmail.com'))],
      ['s2c', res(notifyBody())],
      ['c2s', req(say(SID, 'mallory@hotmail.com', 'bob_y', 'hello'))],
    ];
    const h = everySplit(steps);
    const server = Buffer.concat(h.toServer);
    expect(server.includes('YMSG')).toBe(false);
    // The refused login's chain never got a session id, so the later request
    // starts a new chain; its message names the account, which the rule blocks too.
    expect(h.summary()).toEqual([
      ['ymsg/yahoo-http', 'login', 'mallory@hotmail.com', undefined, 'block'],
      ['ymsg/yahoo-http', 'message', 'mallory@hotmail.com', 'hello', 'block'],
    ]);
  });

  it('a body that is not whole YMSG makes its chain pass unread, byte-identical', () => {
    const cut = say(SID, 'alice_y', 'bob_y', 'project falcon');
    const steps: Step[] = [
      ['c2s', req(Buffer.concat([login('alice_y'), cut.subarray(0, 25)]))],
      ['s2c', res(notifyBody(ymsg(AUTH, SID, [[1, 'alice_y']])))],
      ['c2s', req(Buffer.from('not ymsg at all'))],
      ['s2c', res(Buffer.from('xy'))],
    ];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    expect(Buffer.concat(h.toServer).equals(Buffer.concat([steps[0]![1], steps[2]![1]] as Buffer[]))).toBe(true);
    expect(Buffer.concat(h.toClient).equals(Buffer.concat([steps[1]![1], steps[3]![1]] as Buffer[]))).toBe(true);
  });

  it('chains follow the YMSG session id: two clients on one connection keep their own accounts', () => {
    const h = new Harness();
    const other = 0x77;
    h.client(req(login('alice_y'))).server(res(notifyBody(ymsg(AUTH, SID, [[1, 'alice_y']]))));
    h.client(req(login('carol_y'))).server(res(notifyBody(ymsg(AUTH, other, [[1, 'carol_y']]))));
    h.client(req(say(SID, '', 'bob_y', 'from alice'))).server(res(notifyBody()));
    h.client(req(say(other, '', 'bob_y', 'from carol'))).server(res(notifyBody()));
    expect(h.summary().filter((r) => r[1] === 'message').map((r) => [r[2], r[3]])).toEqual([
      ['alice_y', 'from alice'],
      ['carol_y', 'from carol'],
    ]);
  });
});
