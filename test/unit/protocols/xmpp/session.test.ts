import { CLIENT_OPEN, FEATURES, Harness, SERVER_OPEN, loggedIn, plainAuth } from './harness';
import { xmppModule } from '../../../../src/protocols/xmpp';

describe('xmpp probe', () => {
  const p = (s: string | Buffer) => xmppModule.probe('c2s', typeof s === 'string' ? Buffer.from(s) : s);
  it('matches stream openings', () => {
    expect(p(CLIENT_OPEN)).toBe('match');
    expect(p(`\n  <stream:stream to='x'>`)).toBe('match');
    expect(p(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<stream:stream ')]))).toBe('match');
  });
  it('asks for more on a prefix, refuses other protocols', () => {
    expect(p('<?xm')).toBe('more');
    expect(p("<?xml version='1.0'?>")).toBe('more');
    expect(p('<stre')).toBe('more');
    expect(p('GET / HTTP/1.1\r\n')).toBe('no');
    expect(p('<policy-file-request/>\0')).toBe('no');
    expect(p("<?xml version='1.0'?><policy-file-request/>")).toBe('no');
  });
});

describe('xmpp session', () => {
  it('passes an allowed session byte-identically and reports login and message', () => {
    const h = new Harness();
    const up = [CLIENT_OPEN, plainAuth('alice', 'pw')];
    h.client(up[0] as string).server(SERVER_OPEN + FEATURES).client(up[1] as string);
    expect(h.serverGot()).toBe(up.join(''));
    expect(h.events[0]?.draft).toMatchObject({ kind: 'login', account: 'alice@imgate.test', detail: { mechanism: 'PLAIN' } });
    h.server(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
    expect(h.events[1]?.draft).toMatchObject({ kind: 'login', account: 'alice@imgate.test', detail: { sasl: 'success' } });
    const msg = `<message to='bob@imgate.test' type='chat' id='m1'><body>hello &lt;bob&gt;</body></message>`;
    h.reset();
    h.client(msg);
    expect(h.serverGot()).toBe(msg);
    expect(h.events[2]?.draft).toMatchObject({ kind: 'message', side: 'c2s', peer: 'bob@imgate.test', text: 'hello <bob>' });
  });

  it('blocks a banned message: the server never sees it, the client gets a policy-violation error', () => {
    const h = loggedIn(new Harness());
    h.client(`<message to='bob@imgate.test/x' type='chat' id='m2'><body>about Project  Falcon</body></message>`);
    expect(h.serverGot()).toBe('');
    const err = h.clientGot();
    expect(err).toContain(`<message type='error' id='m2' to='alice@imgate.test/t' from='bob@imgate.test/x'>`);
    expect(err).toContain(`<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`);
    expect(err).toContain('imgate');
    expect(err).toContain('no-falcon');
  });

  it('redacts a card number and leaves the rest byte-identical', () => {
    const h = loggedIn(new Harness());
    h.client(`<message to="bob@imgate.test" type="chat" id="m3"><active xmlns='http://jabber.org/protocol/chatstates'/><body>card 4111 1111 1111 1111 &amp; more</body></message>`);
    expect(h.serverGot()).toBe(`<message to="bob@imgate.test" type="chat" id="m3"><active xmlns='http://jabber.org/protocol/chatstates'/><body>card **** &amp; more</body></message>`);
  });

  it('redaction drops the XHTML-IM copy of the text', () => {
    const h = loggedIn(new Harness());
    h.client(`<message to='bob@imgate.test' id='m4'><body>4111111111111111</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>4111111111111111</p></body></html><x/></message>`);
    expect(h.serverGot()).toBe(`<message to='bob@imgate.test' id='m4'><body>****</body><x/></message>`);
  });

  it('refuses a banned account with a SASL failure and never forwards its auth', () => {
    const h = new Harness();
    h.client(CLIENT_OPEN).server(SERVER_OPEN + FEATURES);
    h.reset();
    h.client(plainAuth('mallory', 'pw'));
    expect(h.serverGot()).toBe('');
    expect(h.clientGot()).toMatch(/^<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized\/><text>.*banned-account.*<\/text><\/failure>$/);
  });

  it('refuses file offers: upload slot, SI, jingle, and an OOB message', () => {
    const h = loggedIn(new Harness());
    h.client(`<iq type='get' id='u1' to='upload.imgate.test'><request xmlns='urn:xmpp:http:upload:0' filename='plans.pdf' size='1234' content-type='application/pdf'/></iq>`);
    expect(h.serverGot()).toBe('');
    expect(h.clientGot()).toContain(`<iq type='error' id='u1' to='alice@imgate.test/t' from='upload.imgate.test'><error type='cancel'><forbidden`);
    const file = h.events.find((e) => e.draft.kind === 'file');
    expect(file?.draft.file).toEqual({ name: 'plans.pdf', size: 1234 });
    h.reset();
    h.client(`<iq type='set' id='s1' to='bob@imgate.test/x'><si xmlns='http://jabber.org/protocol/si' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='a b.txt' size='12'/></si></iq>`);
    expect(h.serverGot()).toBe('');
    expect(h.events[h.events.length - 1]?.draft.file).toEqual({ name: 'a b.txt', size: 12 });
    h.client(`<iq type='set' id='j1' to='bob@imgate.test/x'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='x'><content creator='initiator' name='f'><description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file><name>j.bin</name><size>99</size></file></description></content></jingle></iq>`);
    expect(h.events[h.events.length - 1]?.draft.file).toEqual({ name: 'j.bin', size: 99 });
    h.reset();
    h.client(`<message to='bob@imgate.test' id='o1'><body>see</body><x xmlns='jabber:x:oob'><url>http://h/x/report.doc</url></x></message>`);
    expect(h.serverGot()).toBe('');
    expect(h.clientGot()).toContain(`<message type='error' id='o1'`);
    expect(h.events[h.events.length - 1]?.draft.file).toEqual({ name: 'report.doc' });
  });

  it('reports presence (subscription requests) and inbound messages', () => {
    const h = loggedIn(new Harness());
    h.client(`<presence to='bob@imgate.test' type='subscribe'/>`);
    expect(h.events[h.events.length - 1]?.draft).toMatchObject({ kind: 'presence', peer: 'bob@imgate.test', detail: { type: 'subscribe' } });
    const inbound = `<message from='bob@imgate.test/x' to='alice@imgate.test/t' type='chat'><body>hi alice</body></message>`;
    h.server(inbound);
    expect(h.clientGot()).toBe(inbound);
    expect(h.events[h.events.length - 1]?.draft).toMatchObject({ kind: 'message', side: 's2c', account: 'alice@imgate.test', peer: 'bob@imgate.test', text: 'hi alice' });
  });

  it('blocks an inbound message and bounces an error to its sender', () => {
    const h = loggedIn(new Harness());
    h.server(`<message from='bob@imgate.test/x' to='alice@imgate.test/t' type='chat' id='i1'><body>project falcon</body></message>`);
    expect(h.clientGot()).toBe('');
    expect(h.serverGot()).toContain(`<message type='error' id='i1' to='bob@imgate.test/x'>`);
  });

  it('keeps XEP-0198 counters valid across a blocked outbound and a blocked inbound stanza', () => {
    const h = loggedIn(new Harness());
    h.client(`<enable xmlns='urn:xmpp:sm:3'/>`).server(`<enabled xmlns='urn:xmpp:sm:3'/>`);
    h.reset();
    h.client(`<message to='bob@imgate.test' id='a'><body>ok</body></message>`); // server #1
    h.client(`<message to='bob@imgate.test' id='b'><body>project falcon</body></message>`); // substituted: server #2
    const up = h.serverGot();
    expect(up).toMatch(/<iq type='get' id='imgate-1' to='imgate.test'><ping xmlns='urn:xmpp:ping'\/><\/iq>$/);
    expect(up).not.toContain('falcon');
    // The client got one gateway error (client count 1 of inbound).
    h.reset();
    h.server(`<iq type='result' id='imgate-1' from='imgate.test'/>`); // server sent #1, swallowed
    expect(h.clientGot()).toBe('');
    h.server(`<message from='bob@imgate.test/x' id='c'><body>fine</body></message>`); // server #2 -> client #2
    h.server(`<a xmlns='urn:xmpp:sm:3' h='2'/>`); // server handled the client's 2 stanzas (1 + substitute)
    expect(h.clientGot()).toMatch(/<a xmlns='urn:xmpp:sm:3' h='2'\/>$/);
    h.reset();
    // Client acks 2 received: the error (ours) and 'fine' = server's #1 (swallowed) and #2.
    h.client(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    expect(h.serverGot()).toBe(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    // Server's #3 is blocked inbound (and bounced: one more stanza the server counts from us).
    h.server(`<message from='bob@imgate.test/x' id='d' type='chat'><body>project falcon</body></message>`);
    h.reset();
    h.client(`<message to='bob@imgate.test' id='e'><body>ok2</body></message>`); // client #3 -> server #4 (after bounce)
    h.client(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    expect(h.serverGot()).toMatch(/<a xmlns='urn:xmpp:sm:3' h='3'\/>$/);
    h.reset();
    h.server(`<a xmlns='urn:xmpp:sm:3' h='4'/>`);
    expect(h.clientGot()).toBe(`<a xmlns='urn:xmpp:sm:3' h='3'/>`);
  });

  it('STARTTLS pass: after <proceed/> the session is passthrough', () => {
    const h = new Harness({ starttls: 'pass' });
    h.client(CLIENT_OPEN).server(SERVER_OPEN + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`);
    h.client(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`).server(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    expect(h.session.passthrough).toBe(true);
    expect(h.events[h.events.length - 1]?.draft).toMatchObject({ kind: 'connection', detail: { tls: true } });
  });

  it('STARTTLS strip hides the offer; required offers make it block', () => {
    const h = new Harness({ starttls: 'strip' });
    h.client(CLIENT_OPEN).server(SERVER_OPEN + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`);
    expect(h.clientGot()).toBe(SERVER_OPEN + `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`);
    const r = new Harness({ starttls: 'strip' });
    r.client(CLIENT_OPEN).server(SERVER_OPEN + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`);
    r.reset();
    r.client(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    expect(r.serverGot()).toBe('');
    expect(r.clientGot()).toContain('<stream:error><policy-violation');
    expect(r.closed).toMatch(/STARTTLS/);
  });

  it('STARTTLS block: stream error and close', () => {
    const h = new Harness({ starttls: 'block' });
    h.client(CLIENT_OPEN).server(SERVER_OPEN + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`);
    h.client(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    expect(h.clientGot()).toContain(`<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`);
    expect(h.closed).not.toBeNull();
  });

  it('closes with a reason on an oversized stanza', () => {
    const h = loggedIn(new Harness({ maxUnitBytes: 1000 }));
    h.client(`<message to='bob@imgate.test'><body>${'a'.repeat(2000)}</body></message>`);
    expect(h.closed).toMatch(/larger than 1000/);
    expect(h.serverGot()).toBe('');
  });

  it('takes the account from the bind result for other mechanisms', () => {
    const h = new Harness();
    h.client(CLIENT_OPEN).server(SERVER_OPEN + FEATURES);
    h.client(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`).server(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
    h.client(CLIENT_OPEN).server(SERVER_OPEN);
    h.client(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
    h.reset();
    h.server(`<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>mallory@imgate.test/r</jid></bind></iq>`);
    expect(h.events[h.events.length - 1]?.draft).toMatchObject({ kind: 'login', account: 'mallory@imgate.test' });
    expect(h.clientGot()).toContain('<stream:error><policy-violation');
    expect(h.closed).toMatch(/mallory/);
  });
});
