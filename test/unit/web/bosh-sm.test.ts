// XEP-0198 for BOSH on the ICAP door: once the client enabled stream
// management, a refused message becomes a ping (the server counts it), and
// the ping's answer in a later response becomes the error stanza (the client
// counts it), so both counts stay equal without rewriting any h. Without
// stream management the old behaviour (cut, error in the next response) stays.
import { extractBosh, type BoshExtraction } from '../../../src/web/bosh';
import { BoshWebSessions } from '../../../src/web/bosh-session';
import { splice } from '../../../src/web/inspect';
import { BoshStateTable } from '../../../src/web/bosh-state';

const NS = 'http://jabber.org/protocol/httpbind';
const SM = `xmlns='urn:xmpp:sm:3'`;
const scope = { url: 'http://127.0.0.1:5280/http-bind', client: '127.0.0.1', user: 'alice' };
const buf = (s: string): Buffer => Buffer.from(s, 'utf8');
const req = (rid: number, inner: string): Buffer => buf(`<body rid='${rid}' sid='S1' xmlns='${NS}'>${inner}</body>`);
const resp = (inner: string): Buffer => buf(`<body sid='S1' xmlns='${NS}'>${inner}</body>`);
const msg = (id: string, text: string): string => `<message xmlns='jabber:client' to='bob@imgate.test' id='${id}' type='chat'><body>${text}</body></message>`;
const inbound = (id: string, text: string): string => `<message xmlns='jabber:client' from='bob@imgate.test/w' to='alice@imgate.test/web' id='${id}' type='chat'><body>${text}</body></message>`;
const pong = (id: string): string => `<iq xmlns='jabber:client' type='result' id='${id}' from='imgate.test' to='alice@imgate.test/web'/>`;
const PING = (id: string): string => `<iq xmlns='jabber:client' type='get' id='${id}' to='imgate.test'><ping xmlns='urn:xmpp:ping'/></iq>`;
const ERR = (id: string): RegExp => new RegExp(`^<message type='error' id='${id}' to='alice@imgate.test' from='bob@imgate.test'><error type='modify'><policy-violation [^]*rule no-falcon[^]*</message>$`);

/** What the ICAP door sends on for a request: every refused message replaced by what refused() returns. */
function request(s: BoshWebSessions, body: Buffer, refuse: (text: string) => boolean): string {
  const found = extractBosh(body, true, 1 << 20);
  const key = s.annotate(true, scope, found) as string;
  const reps: Array<{ start: number; end: number; bytes: Buffer }> = [];
  for (const m of found.messages) {
    if (m.kind === 'message' && m.stanza !== undefined && refuse(m.text ?? '')) reps.push({ ...m.stanza, bytes: s.refused(key, body, m, 'no-falcon') });
  }
  return apply(body, reps);
}

/** A response: inbound messages `refuse` blocks are cut (as the ICAP door does), then the session's splice. */
function response(s: BoshWebSessions, body: Buffer, refuse: (text: string) => boolean = () => false): string {
  const found: BoshExtraction = extractBosh(body, false, 1 << 20);
  const key = s.annotate(false, scope, found);
  const reps: Array<{ start: number; end: number; bytes: Buffer }> = [];
  for (const m of found.messages) if (m.kind === 'message' && m.stanza !== undefined && refuse(m.text ?? '') && key !== null) reps.push({ ...m.stanza, bytes: s.cut(key, false, body, m, 'no-falcon') });
  const sp = s.deliver(key, found);
  if (sp !== null) reps.push(sp);
  return apply(body, reps);
}

/** What inspect.ts sends on: the replacements spliced in. */
function apply(body: Buffer, reps: Array<{ start: number; end: number; bytes: Buffer }>): string {
  return splice(body, reps).toString('utf8');
}

const falcon = (t: string): boolean => /project falcon/i.test(t);

function session(sm: boolean): BoshWebSessions {
  const s = new BoshWebSessions();
  s.annotate(true, scope, extractBosh(buf(`<body rid='1' to='imgate.test' xml:lang='en' wait='5' hold='1' ver='1.6' xmlns='${NS}'/>`), true, 1 << 20));
  s.annotate(false, scope, extractBosh(buf(`<body sid='S1' wait='5' requests='2' xmlns='${NS}'></body>`), false, 1 << 20));
  s.annotate(true, scope, extractBosh(req(2, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0pw').toString('base64')}</auth>`), true, 1 << 20));
  if (sm) {
    expect(request(s, req(3, `<enable ${SM} resume='true'/>`), falcon)).toBe(req(3, `<enable ${SM} resume='true'/>`).toString());
    expect(response(s, resp(`<enabled ${SM} id='x1' resume='true'/>`))).toBe(resp(`<enabled ${SM} id='x1' resume='true'/>`).toString());
  }
  return s;
}

describe('BOSH on the ICAP door: XEP-0198', () => {
  test('a refused message becomes a ping; its answer becomes the error stanza, in place', () => {
    const s = session(true);
    expect(request(s, req(4, msg('ok1', 'hi') + msg('bad1', 'the project falcon')), falcon)).toBe(req(4, msg('ok1', 'hi') + PING('imgate-b1')).toString());
    expect(s.owes(`${scope.url}|S1`)).toBe(true);
    // An unrelated response leaves the ping pending.
    expect(response(s, resp(inbound('i1', 'hello')))).toBe(resp(inbound('i1', 'hello')).toString());
    const out = response(s, resp(inbound('i2', 'x') + pong('imgate-b1') + `<r ${SM}/>`));
    const m = /^<body sid='S1' xmlns='[^']+'>(<message[^]*?<\/message>)(<message[^]*?<\/message>)(<r [^]*)<\/body>$/.exec(out);
    expect(m?.[1]).toBe(inbound('i2', 'x'));
    expect(m?.[2]).toMatch(ERR('bad1'));
    expect(m?.[3]).toBe(`<r ${SM}/>`);
    expect(s.owes(`${scope.url}|S1`)).toBe(false);
    // Acks pass unchanged: the counts never parted.
    expect(request(s, req(5, `<a ${SM} h='3'/>`), falcon)).toBe(req(5, `<a ${SM} h='3'/>`).toString());
    expect(response(s, resp(`<a ${SM} h='3'/>`))).toBe(resp(`<a ${SM} h='3'/>`).toString());
  });

  test('several answers in one response are replaced in one splice; a message between them keeps its own cut', () => {
    const s = session(true);
    request(s, req(4, msg('bad1', 'project falcon 1') + msg('bad2', 'project falcon 2') + msg('bad3', 'project falcon 3')), falcon);
    const out = response(s, resp(pong('imgate-b1') + `<presence xmlns='jabber:client' from='bob@imgate.test/w'/>` + pong('imgate-b2')));
    expect(out).not.toContain('imgate-b');
    expect(out.match(/type='error' id='bad\d'/g)).toEqual(["type='error' id='bad1'", "type='error' id='bad2'"]);
    expect(out).toContain(`<presence xmlns='jabber:client' from='bob@imgate.test/w'/>`);
    // A (blocked) message between two answers is never copied by our splice: the second answer passes as is.
    const out2 = response(s, resp(pong('imgate-b3')), falcon);
    expect(out2).toMatch(/type='error' id='bad3'/);
    const s2 = session(true);
    request(s2, req(4, msg('bad1', 'project falcon 1') + msg('bad2', 'project falcon 2')), falcon);
    const out3 = response(s2, resp(pong('imgate-b1') + inbound('i9', 'project falcon inbound') + pong('imgate-b2')), falcon);
    expect(out3).not.toContain('project falcon inbound');
    expect(out3).toMatch(/type='error' id='bad1'/);
    // Counts stay equal: the second answer reaches the client (which ignores an unknown iq result) instead of its error.
    expect(out3).toContain(pong('imgate-b2'));
    expect(out3).not.toMatch(/id='bad2'/);
  });

  test('a refused inbound message becomes a bodiless message from the same sender (the client counts it, reads nothing)', () => {
    const s = session(true);
    const out = response(s, resp(inbound('i1', 'hello') + inbound('i2', 'inbound project falcon') + `<r ${SM}/>`), falcon);
    expect(out).toBe(resp(inbound('i1', 'hello') + `<message xmlns='jabber:client' id='imgate-s1' from='bob@imgate.test/w' to='alice@imgate.test/web' type='chat'/>` + `<r ${SM}/>`).toString());
    // Without stream management it is simply cut.
    const plain = session(false);
    expect(response(plain, resp(inbound('i2', 'inbound project falcon')), falcon)).toBe(resp('').toString());
  });

  test('without <enable/> the message is cut and the error rides in the next response (unchanged behaviour)', () => {
    const s = session(false);
    expect(request(s, req(4, msg('bad1', 'the project falcon')), falcon)).toBe(req(4, '').toString());
    const out = response(s, resp(inbound('i1', 'hello')));
    expect(out.startsWith(`<body sid='S1' xmlns='${NS}'>${inbound('i1', 'hello')}<message type='error' id='bad1'`)).toBe(true);
  });

  test('a server that refuses stream management (<failed/>) turns substitution off', () => {
    const s = session(true);
    response(s, resp(`<failed ${SM}><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`));
    expect(request(s, req(5, msg('bad1', 'the project falcon')), falcon)).toBe(req(5, '').toString());
  });

  test('unanswered pings are bounded per session and expire', () => {
    let t = 1_000_000;
    const table = new BoshStateTable({ maxSessions: 4, idleMs: 60_000, maxOwedBytes: 1024, owedTtlMs: 500 }, () => t);
    const st = table.touch('k');
    for (let i = 0; i < 64; i++) expect(table.ping(st, `p${i}`, buf('<e/>'))).toBe(true);
    expect(table.ping(st, 'p64', buf('<e/>'))).toBe(false);
    t += 501;
    expect(table.ping(st, 'fresh', buf('<e/>'))).toBe(true);
    expect(st.sm?.pings.size).toBe(1);
  });
});
