// Bodies that lie or attack: each gets a clear verdict (on_error, else the
// policy default), a log line naming the fault, and bounded work.
import zlib from 'node:zlib';
import { parseWebIm } from '../../../src/web';
import { ConfigError } from '../../../src/config/errors';
import { blockJson, catalog, harness, reqmodRequest } from './helpers';

const POLICY = { default: 'allow', rules: [{ id: 'no-banned', when: { kind: 'message', text_matches: 'banana-plan' }, then: 'block' }] };
const MM = 'https://team.cloud.mattermost.com/api/v4/posts';
const JSONH: Array<[string, string]> = [['Content-Type', 'application/json']];

function withOnError(mode: 'allow' | 'block', limits: Record<string, number> = {}) {
  return parseWebIm({ ...catalog.doc, on_error: mode, limits: { ...catalog.doc.limits, ...limits } }, null);
}

function unreadable(h: ReturnType<typeof harness>): Record<string, unknown> | undefined {
  return h.lines.find((l) => l.msg === 'web IM body unreadable');
}

test('malformed multipart (no closing boundary): on_error block -> app error, fault logged', async () => {
  const h = harness(POLICY, { cat: withOnError('block') });
  const body = '--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nbanana-plan but never closed';
  const v = await h.reqmod.handle(reqmodRequest({ url: 'https://open.rocket.chat/api/v1/rooms.upload/R1', headers: [['Content-Type', 'multipart/form-data; boundary=B']], body }));
  expect(blockJson(v).json).toMatchObject({ success: false });
  expect(unreadable(h)).toMatchObject({ fault: 'multipart', verdict: 'block', app: 'rocketchat' });
});

test('multipart without a boundary parameter, on_error default with a default-allow policy: allow', async () => {
  const h = harness(POLICY);
  const v = await h.reqmod.handle(reqmodRequest({ url: 'https://open.rocket.chat/api/v1/rooms.upload/R1', headers: [['Content-Type', 'multipart/form-data']], body: 'x' }));
  expect(v).toEqual({ kind: 'allow' });
  expect(unreadable(h)).toMatchObject({ fault: 'multipart', verdict: 'allow' });
});

test('on_error default follows a default-block policy', async () => {
  // The heads-only 'http' event would be blocked by the default first, so allow it explicitly.
  const h2 = harness({ default: 'block', rules: [{ id: 'web', when: { kind: 'http' }, then: 'allow' }] });
  const bad = reqmodRequest({ url: MM, headers: JSONH, body: '{"message": "unterminated' });
  const v = await h2.reqmod.handle(bad);
  expect(blockJson(v).json).toMatchObject({ id: 'imgate.blocked' });
  expect(unreadable(h2)).toMatchObject({ fault: 'json', verdict: 'block' });
});

test('a lying Content-Length (says 500, body is 40 bytes)', async () => {
  const h = harness(POLICY, { cat: withOnError('block') });
  const v = await h.reqmod.handle(reqmodRequest({ url: MM, headers: [...JSONH, ['Content-Length', '500']], body: '{"channel_id":"c","message":"banana"}' }));
  expect(v.kind).toBe('block');
  expect(String(unreadable(h)?.err)).toMatch(/Content-Length says 500/);
});

test('a gzip bomb (64 MiB of zeros) stops at the inflate cap', async () => {
  const h = harness(POLICY, { cat: withOnError('block') });
  const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
  const heapBefore = process.memoryUsage().arrayBuffers;
  const v = await h.reqmod.handle(reqmodRequest({ url: MM, headers: [...JSONH, ['Content-Encoding', 'gzip']], body: bomb }));
  expect(v.kind).toBe('block');
  expect(unreadable(h)).toMatchObject({ fault: 'limit' });
  expect(String(unreadable(h)?.err)).toMatch(/inflates past \d+ bytes/);
  // Capped: nowhere near the 64 MiB the bomb expands to.
  expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(32 * 1024 * 1024);
});

test('a corrupt gzip body and an unknown Content-Encoding', async () => {
  const h = harness(POLICY, { cat: withOnError('allow') });
  expect(await h.reqmod.handle(reqmodRequest({ url: MM, headers: [...JSONH, ['Content-Encoding', 'gzip']], body: 'not gzip' }))).toEqual({ kind: 'allow' });
  expect(await h.reqmod.handle(reqmodRequest({ url: MM, headers: [...JSONH, ['Content-Encoding', 'zstd']], body: '{}' }))).toEqual({ kind: 'allow' });
  expect(h.lines.filter((l) => l.msg === 'web IM body unreadable').map((l) => l.fault)).toEqual(['encoding', 'encoding']);
});

test('deeply nested JSON (200k levels) is refused at the depth cap without recursion', async () => {
  const h = harness(POLICY, { cat: withOnError('block') });
  const body = `${'['.repeat(200_000)}"banana-plan"${']'.repeat(200_000)}`;
  const v = await h.reqmod.handle(reqmodRequest({ url: MM, headers: JSONH, body }));
  expect(v.kind).toBe('block');
  expect(String(unreadable(h)?.err)).toMatch(/nesting deeper than 64/);
});

test('a body over max_body_bytes is decided on the heads and streamed, with a log line', async () => {
  const h = harness(POLICY, { cat: withOnError('block', { max_body_bytes: 4096 }) });
  const body = JSON.stringify({ channel_id: 'c', message: `banana-plan ${'y'.repeat(10_000)}` });
  const declared = await h.reqmod.handle(reqmodRequest({ url: MM, headers: JSONH, body }));
  expect(declared).toEqual({ kind: 'allow' });
  // Chunked (no Content-Length): reading stops at the limit.
  const req = reqmodRequest({ url: MM, headers: JSONH, body, noLength: true, chunk: 1000 });
  expect(await h.reqmod.handle(req)).toEqual({ kind: 'allow' });
  expect(h.lines.filter((l) => l.msg === 'web IM body over the inspection limit: decided on the heads only')).toHaveLength(2);
});

test('webim.yaml validation names the key', () => {
  expect(() => parseWebIm({ apps: { slack: { hosts: ['slack.com'], endpoints: [{ paths: ['api/x'], text: ['jsn:text'] }] } } }, 'webim.yaml')).toThrow(ConfigError);
  try {
    parseWebIm({ apps: { slack: { hosts: ['slack.com'], endpoints: [{ paths: ['api/x'], text: ['jsn:text'] }] } } }, 'webim.yaml');
  } catch (err) {
    const p = (err as ConfigError).problems.join('\n');
    expect(p).toMatch(/apps\.slack\.endpoints\[0\]\.paths\[0\]: expected a path starting with "\/"/);
    expect(p).toMatch(/apps\.slack\.endpoints\[0\]\.text\[0\]: expected json:<path>/);
  }
  expect(() => parseWebIm({ apps: {}, limit: {} }, null)).toThrow(/limit: unknown key/);
});

test('the shipped catalogue recognises each app and ignores everything else', () => {
  const m = (phase: 'request' | 'response', method: string, host: string, p: string) => catalog.match(phase, method, host, p)?.endpoint.app;
  expect(m('request', 'POST', 'slack.com', '/api/chat.postMessage')).toBe('slack');
  expect(m('request', 'POST', 'acme.slack.com', '/api/files.upload')).toBe('slack');
  expect(m('request', 'POST', 'discord.com', '/api/v9/channels/1/messages')).toBe('discord');
  expect(m('request', 'POST', 'amer.ng.msg.teams.microsoft.com', '/v1/users/ME/conversations/19:x/messages')).toBe('teams');
  expect(m('request', 'PUT', 'matrix.org', '/_matrix/client/v3/rooms/!r:m/send/m.room.message/t1')).toBe('matrix');
  expect(m('request', 'POST', 'matrix.org', '/_matrix/media/v3/upload')).toBe('matrix');
  expect(m('response', 'GET', 'matrix.org', '/_matrix/client/v3/sync')).toBe('matrix');
  expect(m('request', 'POST', 'x.cloud.mattermost.com', '/api/v4/posts')).toBe('mattermost');
  expect(m('request', 'POST', 'open.rocket.chat', '/api/v1/chat.postMessage')).toBe('rocketchat');
  expect(m('request', 'POST', 'chat.googleapis.com', '/v1/spaces/S/messages')).toBe('googlechat');
  expect(m('request', 'POST', 'anything.example', '/http-bind')).toBe('xmpp-bosh');
  expect(m('request', 'GET', 'slack.com', '/api/chat.postMessage')).toBeUndefined();
  expect(m('request', 'POST', 'www.example.org', '/api/v4/posts')).toBeUndefined();
  expect(m('request', 'POST', 'notslack.com', '/api/chat.postMessage')).toBeUndefined();
});
