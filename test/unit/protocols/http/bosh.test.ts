// XMPP over BOSH inside an HTTP tunnel: session creation, SASL PLAIN login,
// messages allowed / blocked / redacted with the HTTP framing kept valid,
// chunked bodies and pipelined requests, each replayed at every split.
import { BOSH, XML, chunked, everySplit, parts, plain64, request, response, type Step } from './harness';

const CREATE = `<body rid='1000' to='imgate.test' xml:lang='en' wait='10' hold='1' ver='1.6' xmpp:version='1.0' xmlns='${BOSH}' xmlns:xmpp='urn:xmpp:xbosh'/>`;
const CREATED = `<body xmlns='${BOSH}' sid='s1' wait='10' requests='2' inactivity='60' hold='1' ver='1.6' from='imgate.test' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>`;
const auth = (user: string) => `<body rid='1001' sid='s1' xmlns='${BOSH}'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain64(user, 'pw')}</auth></body>`;
const SUCCESS = `<body xmlns='${BOSH}' sid='s1'><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></body>`;
const msg = (rid: number, text: string, id = 'm1') =>
  `<body rid='${rid}' sid='s1' xmlns='${BOSH}'><message to='bob@imgate.test/t' type='chat' id='${id}' xmlns='jabber:client'><body>${text}</body></message></body>`;
const EMPTY = `<body xmlns='${BOSH}' sid='s1'/>`;

const post = (body: string) => request('POST', '/http-bind', XML, body);
const ok = (body: string) => response('200 OK', XML, body);

function login(user = 'alice'): Step[] {
  return [
    ['c2s', post(CREATE)],
    ['s2c', ok(CREATED)],
    ['c2s', post(auth(user))],
    ['s2c', ok(SUCCESS)],
  ];
}

describe('http: XMPP over BOSH', () => {
  it('login and an allowed message pass byte-identical, with events xmpp/bosh', () => {
    const steps: Step[] = [...login(), ['c2s', post(msg(1002, 'hello bob'))], ['s2c', ok(EMPTY)]];
    const h = everySplit(steps);
    expect(h.closed).toBeNull();
    expect(h.serverGot()).toBe(steps.filter(([s]) => s === 'c2s').map(([, d]) => d).join(''));
    expect(h.clientGot()).toBe(steps.filter(([s]) => s === 's2c').map(([, d]) => d).join(''));
    expect(h.summary()).toEqual([
      ['xmpp/bosh', 'login', 'alice@imgate.test', undefined, 'allow'],
      ['xmpp/bosh', 'message', 'alice@imgate.test', 'hello bob', 'allow'],
    ]);
    expect(h.events[1]?.draft.peer).toBe('bob@imgate.test');
  });

  it('a blocked message is cut out of the body, Content-Length fixed, error stanza in the next response', () => {
    const steps: Step[] = [...login(), ['c2s', post(msg(1002, 'about project falcon', 'bad1'))], ['s2c', ok(EMPTY)]];
    const h = everySplit(steps);
    const sent = h.serverGot();
    expect(sent).not.toContain('falcon');
    const last = parts(sent.slice(sent.lastIndexOf('POST ')));
    expect(last.body).toBe(`<body rid='1002' sid='s1' xmlns='${BOSH}'></body>`);
    expect(last.head).toContain(`Content-Length: ${last.body.length}\r\n`);
    const got = h.clientGot();
    const resp = parts(got.slice(got.lastIndexOf('HTTP/1.1 ')));
    expect(resp.head).toContain(`Content-Length: ${Buffer.byteLength(resp.body)}\r\n`);
    expect(resp.body).toMatch(new RegExp(`^<body xmlns='${BOSH.replace(/\//g, '\\/')}' sid='s1'><message xmlns='jabber:client' type='error' id='bad1'`));
    expect(resp.body).toContain('policy-violation');
    expect(resp.body).toContain('rule no-falcon');
    expect(resp.body.endsWith('</message></body>')).toBe(true);
    expect(h.summary().at(-1)).toEqual(['xmpp/bosh', 'message', 'alice@imgate.test', 'about project falcon', 'block']);
  });

  it('a redacted message arrives masked with a correct Content-Length; other stanzas in the body stay', () => {
    const body = `<body rid='1002' sid='s1' xmlns='${BOSH}'><presence xmlns='jabber:client'/><message to='bob@imgate.test' type='chat' xmlns='jabber:client'><body>card 4111 1111 1111 1111 ok</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>card 4111 1111 1111 1111</body></html></message></body>`;
    const h = everySplit([...login(), ['c2s', post(body)]]);
    const sent = h.serverGot();
    const last = parts(sent.slice(sent.lastIndexOf('POST ')));
    expect(last.body).toBe(`<body rid='1002' sid='s1' xmlns='${BOSH}'><presence xmlns='jabber:client'/><message to='bob@imgate.test' type='chat' xmlns='jabber:client'><body>card **** ok</body></message></body>`);
    expect(last.head).toContain(`Content-Length: ${last.body.length}\r\n`);
    expect(sent).not.toContain('4111');
  });

  it('an inbound message in a response is redacted, a banned inbound one dropped', () => {
    const inbound = `<body xmlns='${BOSH}' sid='s1'><message from='bob@imgate.test/t' to='alice@imgate.test/x' type='chat' xmlns='jabber:client'><body>4111-1111-1111-1111</body></message><message from='bob@imgate.test/t' type='chat' xmlns='jabber:client'><body>project  falcon</body></message></body>`;
    const h = everySplit([...login(), ['c2s', post(msg(1002, 'hi'))], ['s2c', ok(inbound)]]);
    const got = h.clientGot();
    const resp = parts(got.slice(got.lastIndexOf('HTTP/1.1 ')));
    expect(resp.body).toBe(`<body xmlns='${BOSH}' sid='s1'><message from='bob@imgate.test/t' to='alice@imgate.test/x' type='chat' xmlns='jabber:client'><body>****</body></message></body>`);
    expect(resp.head).toContain(`Content-Length: ${resp.body.length}\r\n`);
  });

  it('a banned account cannot log in: auth removed, SASL failure delivered', () => {
    const h = everySplit([...login('mallory').slice(0, 3), ['s2c', ok(EMPTY)]]);
    expect(h.serverGot()).not.toContain('<auth');
    expect(h.clientGot()).toContain(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>`);
    expect(h.summary().at(-1)).toEqual(['xmpp/bosh', 'login', 'mallory@imgate.test', undefined, 'block']);
  });

  it('chunked request bodies are read, and a rewrite is re-chunked', () => {
    const okReq = request('POST', '/http-bind', { ...XML, 'Transfer-Encoding': 'chunked' }, chunked(msg(1002, 'fine text')));
    const badReq = request('POST', '/http-bind', { ...XML, 'Transfer-Encoding': 'chunked' }, chunked(msg(1003, 'card 4111111111111111')));
    const h = everySplit([...login(), ['c2s', okReq], ['c2s', badReq]]);
    const sent = h.serverGot();
    expect(sent.includes(okReq)).toBe(true);
    const rewritten = msg(1003, 'card ****');
    expect(sent.endsWith(`Transfer-Encoding: chunked\r\n\r\n${rewritten.length.toString(16)}\r\n${rewritten}\r\n0\r\n\r\n`)).toBe(true);
    expect(h.summary().slice(1).map((s) => s[4])).toEqual(['allow', 'redact']);
  });

  it('pipelined requests in one chunk: responses matched in order, the bad one cut', () => {
    const both = post(msg(1002, 'one')) + post(msg(1003, 'project falcon', 'b2')) + request('GET', '/favicon.ico', {});
    const replies = ok(EMPTY) + ok(EMPTY) + response('404 Not Found', { 'Content-Type': 'text/plain' }, 'nope');
    const h = everySplit([...login(), ['c2s', both], ['s2c', replies]]);
    expect(h.serverGot()).toContain(`<body rid='1003' sid='s1' xmlns='${BOSH}'></body>`);
    expect(h.serverGot().endsWith(request('GET', '/favicon.ico', {}))).toBe(true);
    const got = h.clientGot();
    expect(got.match(/HTTP\/1\.1 /g)?.length).toBe(5);
    expect(got).toContain("id='b2'");
    expect(got.endsWith(response('404 Not Found', { 'Content-Type': 'text/plain' }, 'nope'))).toBe(true);
  });

  it('an XML POST elsewhere is sniffed: a httpbind body is inspected, other XML passes', () => {
    const h = everySplit([
      ['c2s', request('POST', '/custom/bind', XML, CREATE)],
      ['s2c', ok(CREATED)],
      ['c2s', request('POST', '/custom/bind', XML, msg(1001, 'project falcon'))],
      ['c2s', request('POST', '/soap', XML, '<Envelope>project falcon</Envelope>')],
    ]);
    expect(h.serverGot()).toContain('<Envelope>project falcon</Envelope>');
    expect(h.serverGot().match(/falcon/g)?.length).toBe(1);
  });
});
