// The MSN HTTP gateway inside an HTTP tunnel: bodies go to one
// MsnGatewayInspector per gateway session (following SessionID); verdicts
// change bodies and Content-Length, gateway answers ride in responses.
import { everySplit, request, response, type Step } from './harness';

const CT = { 'Content-Type': 'application/x-msn-messenger' };
const MSG = (trid: number, text: string) => {
  const payload = `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n${text}`;
  return `MSG ${trid} N ${Buffer.byteLength(payload)}\r\n${payload}`;
};

describe('http: MSN HTTP gateway', () => {
  it('login, an allowed message, a blocked one (NAK to the client), following SessionID', () => {
    const steps: Step[] = [
      ['c2s', request('POST', 'http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=SB&IP=127.0.0.1', CT, 'USR 1 alice@hotmail.com 123.456\r\nCAL 2 bob@hotmail.com\r\n')],
      ['s2c', response('200 OK', { ...CT, 'X-MSN-Messenger': 'SessionID=111.222; GW-IP=127.0.0.1' }, 'USR 1 OK alice@hotmail.com Alice\r\nCAL 2 RINGING 1\r\nJOI bob@hotmail.com Bob\r\n')],
      ['c2s', request('POST', '/gateway/gateway.dll?SessionID=111.222', CT, MSG(3, 'hello') + MSG(4, 'project falcon'))],
      ['s2c', response('200 OK', { ...CT, 'X-MSN-Messenger': 'SessionID=111.333; GW-IP=127.0.0.1' }, '')],
    ];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    const sent = h.serverGot();
    const body = MSG(3, 'hello');
    expect(sent.endsWith(`Content-Length: ${body.length}\r\n\r\n${body}`)).toBe(true);
    expect(sent).not.toContain('falcon');
    expect(h.clientGot().endsWith('Content-Length: 7\r\n\r\nNAK 4\r\n')).toBe(true);
    expect(h.summary()).toEqual([
      ['msnp/msn-http', 'login', 'alice@hotmail.com', undefined, 'allow'],
      ['msnp/msn-http', 'message', 'alice@hotmail.com', 'hello', 'allow'],
      ['msnp/msn-http', 'message', 'alice@hotmail.com', 'project falcon', 'block'],
    ]);
  });
});
