// Per app: the message / file / login a user would recognise is found, the
// policy's block answers in the app's own error shape, and redaction rewrites
// only the text (the rest of the body byte-identical, Content-Length fixed by
// the ICAP server from the new body).
import { blockJson, harness, imEvents, modifiedBody, reqmodRequest, respmodRequest } from './helpers';

const POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-banned', when: { kind: 'message', text_matches: '(?i)\\bbanana-plan\\b' }, then: 'block' },
    { id: 'mask-cards', when: { kind: 'message', text_matches: '\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b' }, then: 'redact' },
    { id: 'no-exe', when: { kind: 'file', file_name: '*.exe' }, then: 'block' },
    { id: 'no-mallory', when: { kind: 'login', account: 'mallory*' }, then: 'block' },
  ],
};

const CARD = '4111 1111 1111 1111';

describe('Slack', () => {
  test('chat.postMessage (JSON): event with channel; banned word -> 200 ok:false', async () => {
    const h = harness(POLICY);
    const body = JSON.stringify({ channel: 'C024BE91L', text: 'lunch at the banana-plan meeting?' });
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://slack.com/api/chat.postMessage', headers: [['Content-Type', 'application/json']], body }));
    const b = blockJson(v);
    expect(b.status).toBe('HTTP/1.1 200 OK');
    expect(b.json).toMatchObject({ ok: false, error: 'blocked_by_imgate', imgate_rule: 'no-banned' });
    const [ev] = imEvents(h);
    expect(ev).toMatchObject({ app: 'slack', protocol: 'http', kind: 'message', direction: 'out', peer: 'C024BE91L', door: 'icap', user: 'alice', client: '10.0.0.7', text: 'lunch at the banana-plan meeting?', action: 'block' });
    expect(b.json.imgate_reference).toBe(ev?.event);
  });

  test('chat.postMessage (form): card number masked inside the form value, rest identical', async () => {
    const h = harness(POLICY);
    const body = `token=xoxp-1&channel=C1&text=${encodeURIComponent(`pay with ${CARD} ok`).replace(/%20/g, '+')}&as_user=true`;
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://acme.slack.com/api/chat.postMessage', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body }));
    expect(modifiedBody(v).toString()).toBe('token=xoxp-1&channel=C1&text=pay+with+****+ok&as_user=true');
  });

  test('conversations.history response: each inbound message is an event; a banned one blocks the response', async () => {
    const h = harness(POLICY);
    const body = JSON.stringify({ ok: true, messages: [{ type: 'message', user: 'U1', text: 'hello' }, { type: 'message', user: 'U2', text: 'the banana-plan' }] });
    const v = await h.respmod.handle(respmodRequest({ url: 'https://slack.com/api/conversations.history?channel=C9', headers: [['Content-Type', 'application/json']], body }));
    expect(blockJson(v).json.ok).toBe(false);
    expect(imEvents(h).map((e) => [e.direction, e.account, e.peer, e.text])).toEqual([
      ['in', 'U1', 'C9', 'hello'],
      ['in', 'U2', 'C9', 'the banana-plan'],
    ]);
  });
});

describe('Discord', () => {
  test('JSON message: channel from the path; block -> 403 with Discord error code', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://discord.com/api/v9/channels/81384788765712384/messages', headers: [['Content-Type', 'application/json']], body: '{"content":"banana-plan now","tts":false}' }));
    const b = blockJson(v);
    expect(b.status).toBe('HTTP/1.1 403 Forbidden');
    expect(b.json.code).toBe(50013);
    expect(imEvents(h)[0]).toMatchObject({ app: 'discord', peer: '81384788765712384', text: 'banana-plan now' });
  });

  test('multipart with payload_json and an attachment: text redacted inside payload_json, file event', async () => {
    const h = harness(POLICY);
    const B = 'xYzZY';
    const payload = JSON.stringify({ content: `card ${CARD}` });
    const body =
      `--${B}\r\nContent-Disposition: form-data; name="payload_json"\r\nContent-Type: application/json\r\n\r\n${payload}\r\n` +
      `--${B}\r\nContent-Disposition: form-data; name="files[0]"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nplain notes\r\n--${B}--\r\n`;
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://discord.com/api/v10/channels/42/messages', headers: [['Content-Type', `multipart/form-data; boundary=${B}`]], body }));
    expect(modifiedBody(v).toString()).toBe(body.replace(CARD, '****'));
    const evs = imEvents(h);
    expect(evs.find((e) => e.kind === 'file')).toMatchObject({ file: { name: 'notes.txt', size: 11 }, action: 'allow' });
  });

  test('an .exe attachment is blocked by the file rule', async () => {
    const h = harness(POLICY);
    const B = 'b0';
    const body = `--${B}\r\nContent-Disposition: form-data; name="files[0]"; filename="setup.exe"\r\n\r\nMZ....\r\n--${B}--\r\n`;
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://discord.com/api/v10/channels/42/messages', headers: [['Content-Type', `multipart/form-data; boundary=${B}`]], body }));
    expect(blockJson(v).json.message).toMatch(/no-exe/);
  });
});

describe('Microsoft Teams', () => {
  test('conversation message: peer = conversation id, account = display name', async () => {
    const h = harness(POLICY);
    const body = JSON.stringify({ content: '<p>status update</p>', messagetype: 'RichText/Html', imdisplayname: 'Alice A' });
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://emea.ng.msg.teams.microsoft.com/v1/users/ME/conversations/19%3Aabc%40thread.v2/messages', headers: [['Content-Type', 'application/json']], body }));
    expect(v.kind).toBe('allow');
    expect(imEvents(h)[0]).toMatchObject({ app: 'teams', peer: '19:abc@thread.v2', account: 'Alice A', text: '<p>status update</p>' });
  });
});

describe('Matrix', () => {
  const url = 'https://matrix.org/_matrix/client/v3/rooms/!room%3Amatrix.org/send/m.room.message/txn1';
  test('send: banned word -> 403 M_FORBIDDEN', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ method: 'PUT', url, headers: [['Content-Type', 'application/json']], body: '{"msgtype":"m.text","body":"BANANA-PLAN"}' }));
    const b = blockJson(v);
    expect(b.status).toBe('HTTP/1.1 403 Forbidden');
    expect(b.json.errcode).toBe('M_FORBIDDEN');
    expect(imEvents(h)[0]).toMatchObject({ app: 'matrix', peer: '!room:matrix.org' });
  });

  test('send: body and formatted_body both redacted, escapes and spacing preserved elsewhere', async () => {
    const h = harness(POLICY);
    const body = `{ "msgtype" : "m.text", "body": "card ${CARD} \\u00e9", "format": "org.matrix.custom.html", "formatted_body": "<b>${CARD}</b>" }`;
    const v = await h.reqmod.handle(reqmodRequest({ method: 'PUT', url, headers: [['Content-Type', 'application/json']], body }));
    expect(modifiedBody(v).toString()).toBe(`{ "msgtype" : "m.text", "body": "card **** é", "format": "org.matrix.custom.html", "formatted_body": "<b>****</b>" }`);
  });

  test('clean message: allow (204 / echo of the untouched body)', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ method: 'PUT', url, headers: [['Content-Type', 'application/json']], body: '{"msgtype":"m.text","body":"hi"}' }));
    expect(v).toEqual({ kind: 'allow' });
  });

  test('media upload: the body is the file, name from the query', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://matrix.org/_matrix/media/v3/upload?filename=tool.exe', headers: [['Content-Type', 'application/octet-stream']], body: Buffer.alloc(300, 1) }));
    expect(blockJson(v).json.errcode).toBe('M_FORBIDDEN');
    expect(imEvents(h)[0]).toMatchObject({ kind: 'file', file: { name: 'tool.exe', size: 300 } });
  });

  test('/sync response (gzip): inbound room messages, redacted and re-compressed', async () => {
    const zlib = await import('node:zlib');
    const h = harness(POLICY);
    const sync = {
      next_batch: 's1',
      rooms: { join: { '!r1:hs': { timeline: { events: [
        { type: 'm.room.member', sender: '@bob:hs', content: { membership: 'join' } },
        { type: 'm.room.message', sender: '@bob:hs', content: { msgtype: 'm.text', body: `my card ${CARD}` } },
      ] } } } },
    };
    const plain = JSON.stringify(sync);
    const v = await h.respmod.handle(respmodRequest({ url: 'https://matrix.org/_matrix/client/v3/sync?since=s0', headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: zlib.gzipSync(plain) }));
    const out = zlib.gunzipSync(modifiedBody(v)).toString();
    expect(out).toBe(plain.replace(CARD, '****'));
    expect(imEvents(h)).toHaveLength(1);
    expect(imEvents(h)[0]).toMatchObject({ direction: 'in', account: '@bob:hs', peer: '!r1:hs', action: 'redact' });
  });
});

describe('Mattermost, Rocket.Chat, Google Chat', () => {
  test('Mattermost post: block shape and redaction', async () => {
    const h = harness(POLICY);
    const url = 'https://team.cloud.mattermost.com/api/v4/posts';
    const blocked = await h.reqmod.handle(reqmodRequest({ url, headers: [['Content-Type', 'application/json']], body: '{"channel_id":"ch1","message":"banana-plan"}' }));
    expect(blockJson(blocked).json).toMatchObject({ id: 'imgate.blocked', status_code: 403 });
    const red = await h.reqmod.handle(reqmodRequest({ url, headers: [['Content-Type', 'application/json']], body: `{"channel_id":"ch1","message":"${CARD}"}` }));
    expect(modifiedBody(red).toString()).toBe('{"channel_id":"ch1","message":"****"}');
    expect(imEvents(h)[0]).toMatchObject({ app: 'mattermost', peer: 'ch1' });
  });

  test('Rocket.Chat rooms.upload: message text and file, account from X-User-Id', async () => {
    const h = harness(POLICY);
    const B = '----rc';
    const body = `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--${B}\r\nContent-Disposition: form-data; name="msg"\r\n\r\nsee the banana-plan\r\n--${B}--`;
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://open.rocket.chat/api/v1/rooms.upload/GENERAL', headers: [['Content-Type', `multipart/form-data; boundary=${B}`], ['X-User-Id', 'u42']], body }));
    expect(blockJson(v).json).toMatchObject({ success: false, errorType: 'blocked-by-imgate' });
    expect(imEvents(h)[0]).toMatchObject({ app: 'rocketchat', peer: 'GENERAL', account: 'u42', text: 'see the banana-plan' });
  });

  test('Google Chat: space message', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://chat.googleapis.com/v1/spaces/AAA/messages', headers: [['Content-Type', 'application/json']], body: '{"text":"banana-plan"}' }));
    expect(blockJson(v).json).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
  });

  test('a browser (Accept: text/html) gets the HTML block page instead', async () => {
    const h = harness(POLICY);
    const v = await h.reqmod.handle(reqmodRequest({ url: 'https://chat.googleapis.com/v1/spaces/AAA/messages', headers: [['Content-Type', 'application/json'], ['Accept', 'text/html,application/xhtml+xml']], body: '{"text":"banana-plan"}' }));
    if (v.kind !== 'block') throw new Error('expected block');
    expect(v.body?.toString()).toMatch(/<html[\s\S]*no-banned/);
  });
});

describe('XMPP over BOSH', () => {
  const url = 'http://chat.example.net/http-bind';
  const wrap = (inner: string): string => `<body rid='1573741824' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind'>${inner}</body>`;

  test('a blocked message stanza is cut out; the wrapper (rid) still goes on', async () => {
    const h = harness(POLICY);
    const ok = "<message to='bob@example.net' type='chat'><body>hi</body></message>";
    const bad = "<message to='carol@example.net/res' type='chat'><body>the banana-plan</body></message>";
    const v = await h.reqmod.handle(reqmodRequest({ url, headers: [['Content-Type', 'text/xml; charset=utf-8']], body: wrap(ok + bad) }));
    expect(modifiedBody(v).toString()).toBe(wrap(ok));
    expect(imEvents(h).map((e) => [e.protocol, e.peer, e.text, e.action])).toEqual([
      ['xmpp', 'bob@example.net', 'hi', 'allow'],
      ['xmpp', 'carol@example.net', 'the banana-plan', 'block'],
    ]);
  });

  test('redaction escapes and splices only the <body> text', async () => {
    const h = harness(POLICY);
    const msg = `<message to='bob@example.net'><body>card ${CARD} &amp; more</body></message>`;
    const v = await h.reqmod.handle(reqmodRequest({ url, body: wrap(msg) }));
    expect(modifiedBody(v).toString()).toBe(wrap("<message to='bob@example.net'><body>card **** &amp; more</body></message>"));
  });

  test('SASL PLAIN login of a blocked account -> BOSH terminate', async () => {
    const h = harness(POLICY);
    const auth = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0mallory\0pw').toString('base64')}</auth>`;
    const v = await h.reqmod.handle(reqmodRequest({ url, body: wrap(auth) }));
    if (v.kind !== 'block') throw new Error('expected block');
    expect(v.body?.toString()).toContain("condition='policy-violation'");
    expect(imEvents(h)[0]).toMatchObject({ kind: 'login', account: 'mallory', action: 'block' });
  });

  test('inbound message in a BOSH response is an event', async () => {
    const h = harness(POLICY);
    const v = await h.respmod.handle(respmodRequest({ method: 'POST', url, body: wrap("<message from='bob@example.net/x' to='alice@example.net/y'><body>hey</body></message>") }));
    expect(v.kind).toBe('allow');
    expect(imEvents(h)[0]).toMatchObject({ direction: 'in', peer: 'bob@example.net', account: 'alice@example.net', text: 'hey' });
  });
});

describe('not web IM', () => {
  test('a POST to an unknown host is decided on heads: the body is never read', async () => {
    const h = harness(POLICY);
    const req = reqmodRequest({ url: 'http://www.example.org/api/v4/posts', headers: [['Content-Type', 'application/json']], body: '{"message":"banana-plan"}' });
    const v = await h.reqmod.handle(req);
    expect(v).toEqual({ kind: 'allow' });
    expect(req.body?.readableFlowing).toBeNull();
    expect(imEvents(h)).toHaveLength(0);
  });
});

describe('MSN HTTP gateway', () => {
  const msg = (trid: number, text: string): Buffer => {
    const payload = Buffer.from(`MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=0\r\n\r\n${text}`);
    return Buffer.concat([Buffer.from(`MSG ${trid} N ${payload.length}\r\n`), payload]);
  };
  const H: Array<[string, string]> = [['Content-Type', 'application/x-msn-messenger']];

  test('one MSNP session across gateway requests: a banned message is dropped and NAKed in the next response', async () => {
    const h = harness(POLICY);
    const base = 'http://gateway.messenger.hotmail.com/gateway/gateway.dll';
    const usr = 'USR 1 alice@hotmail.com 123.456\r\nCAL 2 bob@hotmail.com\r\n';
    expect(await h.reqmod.handle(reqmodRequest({ url: `${base}?Action=open&Server=SB&IP=207.46.0.1`, headers: H, body: usr }))).toEqual({ kind: 'allow' });
    const opened = respmodRequest({ method: 'POST', url: `${base}?Action=open&Server=SB&IP=207.46.0.1`, headers: [...H, ['X-MSN-Messenger', 'SessionID=777.1; GW-IP=127.0.0.1']], body: 'USR 1 OK alice@hotmail.com Alice\r\nCAL 2 RINGING 1\r\nJOI bob@hotmail.com Bob\r\n' });
    expect(await h.respmod.handle(opened)).toEqual({ kind: 'allow' });
    const ok = msg(3, 'hello');
    const bad = msg(4, 'our banana-plan');
    const v = await h.reqmod.handle(reqmodRequest({ url: `${base}?SessionID=777.1`, headers: H, body: Buffer.concat([ok, bad]) }));
    expect(modifiedBody(v).equals(ok)).toBe(true);
    const poll = await h.respmod.handle(respmodRequest({ method: 'POST', url: `${base}?SessionID=777.1`, headers: [...H, ['X-MSN-Messenger', 'SessionID=777.2; GW-IP=127.0.0.1']], body: '' }));
    expect(modifiedBody(poll).toString()).toBe('NAK 4\r\n');
    expect(imEvents(h).map((e) => [e.protocol, e.kind, e.account, e.peer, e.text, e.action])).toEqual([
      ['msnp', 'login', 'alice@hotmail.com', undefined, undefined, 'allow'],
      ['msnp', 'message', 'alice@hotmail.com', 'bob@hotmail.com', 'hello', 'allow'],
      ['msnp', 'message', 'alice@hotmail.com', 'bob@hotmail.com', 'our banana-plan', 'block'],
    ]);
  });
});
