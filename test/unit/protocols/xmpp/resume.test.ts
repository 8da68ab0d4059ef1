// XEP-0198 resumption across two inspected connections: the offsets imgate
// applied on the first (suppressed, substituted and injected stanzas) carry
// over to the h values of <resume/> and <resumed/>, and what the server
// re-sends is inspected again.
import { CLIENT_OPEN, FEATURES, Harness, loggedIn, plainAuth, SERVER_OPEN } from './harness';
import { ResumptionTable, resumptions } from '../../../../src/protocols/xmpp/resumption';
import { AckMapper } from '../../../../src/protocols/xmpp/smacks';

const SM = `xmlns='urn:xmpp:sm:3'`;
const BOB = `from='bob@imgate.test/x' to='alice@imgate.test/t' type='chat'`;

/** First connection: enabled resumable, then traffic that leaves offsets both ways. */
function firstConnection(): Harness {
  const h = loggedIn(new Harness());
  h.client(`<enable ${SM} resume='true'/>`).server(`<enabled ${SM} id='sm-1' resume='true' max='300'/>`);
  h.reset();
  h.client(`<message to='bob@imgate.test' id='a' type='chat'><body>one</body></message>`); // server #1
  h.client(`<message to='bob@imgate.test' id='b' type='chat'><body>project falcon</body></message>`); // ping: server #2; error: client #1
  expect(h.serverGot()).toContain(`id='imgate-1'`);
  h.server(`<iq type='result' id='imgate-1' from='imgate.test'/>`); // server #1, swallowed
  h.server(`<message ${BOB} id='c'><body>fine</body></message>`); // server #2 -> client #2
  h.server(`<message ${BOB} id='d'><body>project falcon inbound</body></message>`); // server #3 suppressed; bounce: server up #3
  h.server(`<message ${BOB} id='e'><body>later</body></message>`); // server #4 -> client #3
  expect(h.clientGot()).not.toContain('falcon inbound');
  expect(h.serverGot()).toContain(`<message type='error' id='d'`);
  return h;
}

/** Second connection: open, authenticate, restart; no bind (resumption replaces it). */
function secondConnection(user = 'alice'): Harness {
  const h = new Harness();
  h.client(CLIENT_OPEN).server(SERVER_OPEN + FEATURES);
  h.client(plainAuth(user, 'pw')).server(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
  h.client(CLIENT_OPEN).server(SERVER_OPEN + `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm ${SM}/></stream:features>`);
  h.reset();
  return h;
}

beforeEach(() => resumptions.clear());

describe('XEP-0198 resumption through the gateway', () => {
  it('translates h in <resume/> and <resumed/> with the old connection offsets', () => {
    const h1 = firstConnection();
    h1.session.end('c2s'); // the client's TCP connection is gone
    const h2 = secondConnection();
    // The client handled 3 (error, c, e); the server sent 4 (pong, c, d, e) that count as handled.
    h2.client(`<resume ${SM} previd='sm-1' h='3'/>`);
    expect(h2.serverGot()).toBe(`<resume ${SM} previd='sm-1' h='4'/>`);
    // The server handled 3 of ours (a, ping for b, bounce for d) = the client's 2 (a, b).
    h2.server(`<resumed ${SM} previd='sm-1' h='3'/>`);
    expect(h2.clientGot()).toBe(`<resumed ${SM} previd='sm-1' h='2'/>`);
    // Counting goes on in both numberings.
    h2.reset();
    h2.server(`<message ${BOB} id='f'><body>project falcon again</body></message>`); // server #5 suppressed
    h2.server(`<message ${BOB} id='g'><body>after</body></message>`); // server #6 -> client #4
    expect(h2.clientGot()).toContain(`id='g'`);
    expect(h2.clientGot()).not.toContain('falcon');
    h2.client(`<a ${SM} h='4'/>`);
    expect(h2.serverGot()).toMatch(new RegExp(`<a ${SM} h='6'/>$`));
    h2.reset();
    h2.client(`<message to='bob@imgate.test' id='h' type='chat'><body>three</body></message>`); // client #3; server: bounce #4, this #5
    h2.server(`<a ${SM} h='5'/>`);
    expect(h2.clientGot()).toBe(`<a ${SM} h='3'/>`);
    expect(h2.closed).toBeNull();
  });

  it('re-inspects what the server re-sends: a banned stanza the client never handled is suppressed again', () => {
    firstConnection();
    const h2 = secondConnection();
    // The client only handled the gateway's error: c, d and e were lost with the connection.
    h2.client(`<resume ${SM} previd='sm-1' h='1'/>`);
    expect(h2.serverGot()).toBe(`<resume ${SM} previd='sm-1' h='1'/>`); // the swallowed pong counts: 1 + 0
    // The server handled a and the ping only: the bounce for d was lost too.
    h2.server(
      `<resumed ${SM} previd='sm-1' h='2'/>` +
        `<message ${BOB} id='c'><body>fine</body></message>` +
        `<message ${BOB} id='d'><body>project falcon inbound</body></message>` +
        `<message ${BOB} id='e'><body>later</body></message>`,
    );
    const got = h2.clientGot();
    expect(got).toContain(`<resumed ${SM} previd='sm-1' h='2'/>`);
    expect(got).toContain(`id='c'`);
    expect(got).toContain(`id='e'`);
    expect(got).not.toContain('falcon');
    expect(h2.events.filter((e) => e.draft.kind === 'message' && e.verdict.action === 'block').map((e) => e.draft.text)).toEqual(['project falcon inbound']);
    // Bounced again, to bob, as alice's stanza #3 for the server.
    expect(h2.serverGot()).toContain(`<message type='error' id='d' to='bob@imgate.test/x'>`);
    h2.reset();
    h2.client(`<a ${SM} h='3'/>`); // error, c, e
    expect(h2.serverGot()).toBe(`<a ${SM} h='4'/>`); // pong, c, d, e
    h2.client(`<message to='bob@imgate.test' id='z' type='chat'><body>hi</body></message>`); // client #3, server #4
    h2.reset();
    h2.server(`<a ${SM} h='4'/>`);
    expect(h2.clientGot()).toBe(`<a ${SM} h='3'/>`);
  });

  it("re-inspects what the client re-sends when the server had not handled it", () => {
    const h1 = loggedIn(new Harness());
    h1.client(`<enable ${SM} resume='true'/>`).server(`<enabled ${SM} id='sm-4' resume='true'/>`);
    h1.client(`<message to='bob@imgate.test' id='a' type='chat'><body>one</body></message>`); // server #1
    h1.client(`<message to='bob@imgate.test' id='b' type='chat'><body>project falcon</body></message>`); // ping: server #2
    const h2 = secondConnection();
    h2.client(`<resume ${SM} previd='sm-4' h='1'/>`);
    // The server only got a: the client re-sends b, which is substituted again.
    h2.server(`<resumed ${SM} previd='sm-4' h='1'/>`);
    expect(h2.clientGot()).toBe(`<resumed ${SM} previd='sm-4' h='1'/>`);
    h2.reset();
    h2.client(`<message to='bob@imgate.test' id='b' type='chat'><body>project falcon</body></message>`);
    expect(h2.serverGot()).not.toContain('falcon');
    expect(h2.serverGot()).toMatch(/<iq type='get' id='imgate-2'/); // imgate-1 may still be answered
    expect(h2.clientGot()).toContain(`<message type='error' id='b'`);
    h2.reset();
    h2.server(`<a ${SM} h='2'/>`);
    expect(h2.clientGot()).toBe(`<a ${SM} h='2'/>`);
  });

  it('swallows the answer to a gateway ping that the server re-sends after resumption', () => {
    const h1 = loggedIn(new Harness());
    h1.client(`<enable ${SM} resume='true'/>`).server(`<enabled ${SM} id='sm-2' resume='true'/>`);
    h1.client(`<message to='bob@imgate.test' id='b' type='chat'><body>project falcon</body></message>`); // ping imgate-1
    // Cut before the pong arrives.
    const h2 = secondConnection();
    h2.client(`<resume ${SM} previd='sm-2' h='1'/>`); // the client handled the gateway's error
    expect(h2.serverGot()).toBe(`<resume ${SM} previd='sm-2' h='0'/>`);
    h2.server(`<resumed ${SM} previd='sm-2' h='1'/><iq type='result' id='imgate-1' from='imgate.test'/><message ${BOB} id='m'><body>hey</body></message>`);
    expect(h2.clientGot()).toBe(`<resumed ${SM} previd='sm-2' h='1'/><message ${BOB} id='m'><body>hey</body></message>`);
    h2.reset();
    h2.client(`<a ${SM} h='2'/>`); // error + m
    expect(h2.serverGot()).toBe(`<a ${SM} h='2'/>`); // pong + m
    // A new block on this connection gets a fresh ping id, and its answer is swallowed too.
    h2.client(`<message to='bob@imgate.test' id='n' type='chat'><body>project falcon 2</body></message>`); // client #2 -> server #2
    expect(h2.serverGot()).toContain(`id='imgate-2'`);
    h2.reset();
    h2.server(`<iq type='result' id='imgate-2' from='imgate.test'/><message ${BOB} id='o'><body>ho</body></message>`);
    expect(h2.clientGot()).toBe(`<message ${BOB} id='o'><body>ho</body></message>`);
    h2.client(`<a ${SM} h='4'/>`); // error, m, error, o
    expect(h2.serverGot()).toBe(`<a ${SM} h='4'/>`); // pong, m, pong, o
  });

  it('maps h in <failed/> and forgets the stream', () => {
    firstConnection();
    const h2 = secondConnection();
    h2.client(`<resume ${SM} previd='sm-1' h='3'/>`);
    h2.server(`<failed ${SM} h='3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`);
    expect(h2.clientGot()).toBe(`<failed ${SM} h='2'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`);
    expect(resumptions.size).toBe(0);
  });

  it('passes h unchanged for a stream it never saw, and keeps counting from there', () => {
    const h2 = secondConnection();
    h2.client(`<resume ${SM} previd='elsewhere' h='7'/>`);
    expect(h2.serverGot()).toBe(`<resume ${SM} previd='elsewhere' h='7'/>`);
    h2.server(`<resumed ${SM} previd='elsewhere' h='5'/>`);
    expect(h2.clientGot()).toBe(`<resumed ${SM} previd='elsewhere' h='5'/>`);
    h2.server(`<message ${BOB} id='x'><body>project falcon</body></message>`); // server #8 suppressed
    h2.server(`<message ${BOB} id='y'><body>ok</body></message>`); // server #9 -> client #8
    h2.reset();
    h2.client(`<a ${SM} h='8'/>`);
    expect(h2.serverGot()).toBe(`<a ${SM} h='9'/>`);
  });

  it("does not apply another account's offsets", () => {
    firstConnection();
    const h2 = secondConnection('bob');
    h2.client(`<resume ${SM} previd='sm-1' h='3'/>`);
    expect(h2.serverGot()).toBe(`<resume ${SM} previd='sm-1' h='3'/>`);
  });

  it('a clean stream close ends resumability; the table forgets it', () => {
    const h1 = loggedIn(new Harness());
    h1.client(`<enable ${SM} resume='true'/>`).server(`<enabled ${SM} id='sm-3' resume='true'/>`);
    expect(resumptions.size).toBe(1);
    h1.client(`</stream:stream>`);
    expect(resumptions.size).toBe(0);
  });

  it('a stream enabled without resume is not registered', () => {
    const h1 = loggedIn(new Harness());
    h1.client(`<enable ${SM}/>`).server(`<enabled ${SM}/>`);
    expect(resumptions.size).toBe(0);
  });
});

describe('ResumptionTable', () => {
  const state = () => ({ up: new AckMapper(), down: new AckMapper(), swallow: new Set<string>(), account: undefined, fullJid: undefined });

  it('drops the oldest registration beyond its limit', () => {
    const t = new ResumptionTable(2);
    const s = state();
    t.put('a', s, 1000);
    t.put('b', s, 1000);
    t.put('a', s, 1000); // re-registered: newest
    t.put('c', s, 1000);
    expect(t.size).toBe(2);
    expect(t.get('b')).toBeUndefined();
    expect(t.get('a')).toBe(s);
    expect(t.get('c')).toBe(s);
  });

  it('expires entries after their window; touch restarts it', () => {
    // lru-cache reads a start time of 0 as "no ttl": start the clock elsewhere.
    const T = 1_000_000;
    let now = T;
    const t = new ResumptionTable(10, () => now);
    const s = state();
    t.put('a', s, 1000);
    t.put('b', s, 1000);
    now = T + 900;
    t.touch('a');
    now = T + 1500;
    expect(t.get('b')).toBeUndefined();
    expect(t.get('a')).toBe(s);
    now = T + 2000;
    expect(t.get('a')).toBeUndefined();
    expect(t.size).toBe(0);
  });
});
