// Web IM through Squid and imgate's ICAP door, as deployed: curl is the IM
// client, Squid the forward proxy, the local origin plays the IM server and
// reports the sha256 of every body it received. What a user would check:
// a banned word never reaches the server (and the client sees the app's own
// error), a card number arrives masked, a clean message arrives untouched.
import fs from 'node:fs';
import path from 'node:path';
import { Gateway } from './helpers/gateway';
import { Squid } from './helpers/squid';
import { sha256, startOrigin, type Origin } from './helpers/origin';
import { curl } from './helpers/curl';

const POLICY = `default: allow
rules:
  - id: no-banned-word
    when: { kind: message, text_matches: ["(?i)\\\\bbanana-plan\\\\b"] }
    then: block
  - id: mask-cards
    when: { kind: message, text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b"] }
    then: redact
`;

const CARD = '4111 1111 1111 1111';

let origin: Origin;
let gw: Gateway;
let squid: Squid;

/** The shipped catalogue, with the test origin (127.0.0.1) as the Mattermost and Matrix server. */
function testCatalogue(): string {
  const shipped = fs.readFileSync(path.join(__dirname, '..', '..', 'conf', 'webim.yaml'), 'utf8');
  return shipped
    .replace('hosts: ["*.cloud.mattermost.com", mattermost.example]', 'hosts: ["127.0.0.1"]')
    .replace('hosts: [matrix.org, "*.matrix.org"]', 'hosts: ["127.0.0.1"]');
}

beforeAll(async () => {
  origin = await startOrigin();
  gw = await Gateway.start({ name: 'webim-icap', policy: POLICY });
  // The catalogue beside imgate.yaml wins over the shipped one; SIGHUP loads it.
  const from = gw.logs().length;
  fs.writeFileSync(path.join(gw.dir, 'webim.yaml'), testCatalogue());
  gw.reload();
  const reloaded = await gw.waitLog((l) => l.msg === 'reloaded' || l.msg === 'reload failed: keeping the running config and policy', 10000, from);
  expect(reloaded?.msg).toBe('reloaded');
  squid = await Squid.start({ icapPort: gw.ports.icap, name: 'squid-webim' });
}, 60000);

afterAll(async () => {
  await Promise.allSettled([squid?.cleanup()]);
  await gw?.cleanup();
  await origin?.close();
});

function post(url: string, body: string, type: string, method = 'POST'): ReturnType<typeof curl> {
  const file = path.join(gw.dir, `body-${sha256(body).slice(0, 12)}`);
  fs.writeFileSync(file, body);
  return curl(['-x', squid.proxyUrl, '-X', method, '-H', `Content-Type: ${type}`, '--data-binary', `@${file}`, url]);
}

function received(url: string): Array<{ bodySha256: string; bodyLength: number }> {
  return origin.seen.filter((s) => s.url.endsWith(url));
}

test('Mattermost post with a banned word: curl gets the Mattermost-shaped error, the origin never sees it', async () => {
  const before = origin.seen.length;
  const r = await post(`${origin.base}/api/v4/posts`, JSON.stringify({ channel_id: 'town-square', message: 'the banana-plan is on' }), 'application/json');
  expect(r.code).toBe(0);
  expect(r.status).toBe(403);
  const err = JSON.parse(r.body.toString()) as Record<string, unknown>;
  expect(err).toMatchObject({ id: 'imgate.blocked', status_code: 403 });
  expect(String(err.message)).toContain('no-banned-word');
  expect(origin.seen.length).toBe(before);
  const ev = await gw.waitLog((l) => l.msg === 'im event' && l.app === 'mattermost' && l.action === 'block');
  expect(ev).toMatchObject({ door: 'icap', kind: 'message', peer: 'town-square', text: 'the banana-plan is on', rule: 'no-banned-word' });
});

test('Mattermost post with a card number: the origin receives the JSON with the number masked', async () => {
  const sent = `{"channel_id":"town-square","message":"pay to ${CARD} please","props":{"x":1}}`;
  const expected = '{"channel_id":"town-square","message":"pay to **** please","props":{"x":1}}';
  const r = await post(`${origin.base}/api/v4/posts?redact=1`, sent, 'application/json');
  expect(r.status).toBe(200);
  // The origin's answer is what it received: length and sha256 of the body.
  expect(JSON.parse(r.body.toString())).toEqual({ length: Buffer.byteLength(expected), sha256: sha256(expected) });
  const got = received('/api/v4/posts?redact=1');
  expect(got).toHaveLength(1);
  expect(got[0]?.bodySha256).toBe(sha256(expected));
});

test('a clean Matrix message reaches the origin byte-identical', async () => {
  const sent = JSON.stringify({ msgtype: 'm.text', body: 'hello, Zoë 👋 — lunch at noon?', 'm.relates_to': { rel_type: 'm.thread' } }, null, 1);
  const url = `${origin.base}/_matrix/client/v3/rooms/!abc%3A127.0.0.1/send/m.room.message/txn42`;
  const r = await post(url, sent, 'application/json', 'PUT');
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body.toString())).toEqual({ length: Buffer.byteLength(sent), sha256: sha256(sent) });
  const ev = await gw.waitLog((l) => l.msg === 'im event' && l.app === 'matrix');
  expect(ev).toMatchObject({ peer: '!abc:127.0.0.1', action: 'allow', text: 'hello, Zoë 👋 — lunch at noon?' });
});

test('a clean 300 KiB Matrix message (no Allow: 204 from Squid): read for inspection, echoed byte-identical', async () => {
  const sent = JSON.stringify({ msgtype: 'm.text', body: 'long '.repeat(60_000) });
  const r = await post(`${origin.base}/_matrix/client/v3/rooms/!abc%3A127.0.0.1/send/m.room.message/txn44`, sent, 'application/json', 'PUT');
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body.toString())).toEqual({ length: sent.length, sha256: sha256(sent) });
});

test('a Matrix message larger than the ICAP preview with a banned word is blocked with M_FORBIDDEN', async () => {
  const before = origin.seen.length;
  const sent = JSON.stringify({ msgtype: 'm.text', body: `${'x'.repeat(5000)} banana-plan` });
  const r = await post(`${origin.base}/_matrix/client/v3/rooms/!abc%3A127.0.0.1/send/m.room.message/txn43`, sent, 'application/json', 'PUT');
  expect(r.status).toBe(403);
  expect(JSON.parse(r.body.toString())).toMatchObject({ errcode: 'M_FORBIDDEN' });
  expect(origin.seen.length).toBe(before);
});

test('BOSH through Squid: the message with a banned word never reaches the connection manager, the rest does', async () => {
  const wrap = (inner: string): string => `<body rid='4093' sid='b0sh' xmlns='http://jabber.org/protocol/httpbind'>${inner}</body>`;
  const clean = "<message to='bob@127.0.0.1' type='chat' id='m1'><body>see you</body></message>";
  const banned = "<message to='bob@127.0.0.1' type='chat' id='m2'><body>about the banana-plan</body></message>";
  const r = await post(`${origin.base}/http-bind`, wrap(clean + banned), 'text/xml; charset=utf-8');
  expect(r.status).toBe(200);
  const expected = wrap(clean);
  expect(JSON.parse(r.body.toString())).toEqual({ length: Buffer.byteLength(expected), sha256: sha256(expected) });
  const ev = await gw.waitLog((l) => l.msg === 'im event' && l.protocol === 'xmpp' && l.action === 'block');
  expect(ev).toMatchObject({ app: 'xmpp-bosh', peer: 'bob@127.0.0.1', text: 'about the banana-plan' });
});

test('Squid saw no ICAP errors', () => {
  expect(squid.icapLog()).not.toMatch(/ICAP_ERR|\/500 /);
});
