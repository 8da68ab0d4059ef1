import { BoshStateTable, type BoshStateLimits } from '../../../src/web/bosh-state';
import { extractBosh } from '../../../src/web/bosh';
import { BoshWebSessions } from '../../../src/web/bosh-session';

const NS = 'http://jabber.org/protocol/httpbind';
const LIMITS: BoshStateLimits = { maxSessions: 3, idleMs: 1000, maxOwedBytes: 64, owedTtlMs: 500 };

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('BoshStateTable', () => {
  test('keeps at most maxSessions, dropping the least recently used', () => {
    const c = clock();
    const t = new BoshStateTable(LIMITS, c.now);
    t.touch('a').account = 'a@x';
    t.touch('b');
    t.touch('c');
    expect(t.get('a')?.account).toBe('a@x'); // a is now the most recent
    t.touch('d');
    expect(t.size).toBe(3);
    expect(t.get('b')).toBeUndefined();
    expect(t.get('a')?.account).toBe('a@x');
    expect(t.get('c')).toBeDefined();
    expect(t.get('d')).toBeDefined();
  });

  test('forgets a session idle for longer than idleMs; activity keeps it alive', () => {
    const c = clock();
    const t = new BoshStateTable(LIMITS, c.now);
    t.touch('a').account = 'a@x';
    t.touch('b');
    c.advance(800);
    expect(t.get('a')?.account).toBe('a@x');
    c.advance(800);
    expect(t.get('a')?.account).toBe('a@x'); // touched 800 ms ago
    expect(t.get('b')).toBeUndefined(); // untouched for 1600 ms
    c.advance(1001);
    expect(t.get('a')).toBeUndefined();
    expect(t.touch('a').account).toBeUndefined(); // a fresh session, no stale account
  });

  test('idle sessions are swept when new ones arrive, so the table does not hold dead entries', () => {
    const c = clock();
    const t = new BoshStateTable({ ...LIMITS, maxSessions: 100 }, c.now);
    for (let i = 0; i < 50; i++) t.touch(`s${i}`);
    c.advance(2000);
    t.touch('new');
    expect(t.size).toBe(1);
  });

  test('owed stanzas are delivered once, in order', () => {
    const t = new BoshStateTable(LIMITS, clock().now);
    expect(t.owe('a', Buffer.from('<one/>'))).toBe(true);
    expect(t.owe('a', Buffer.from('<two/>'))).toBe(true);
    expect(t.owes('a')).toBe(true);
    expect(t.take('a')?.toString()).toBe('<one/><two/>');
    expect(t.owes('a')).toBe(false);
    expect(t.take('a')).toBeNull();
    expect(t.take('unknown')).toBeNull();
  });

  test('owed bytes per session are bounded', () => {
    const t = new BoshStateTable(LIMITS, clock().now);
    const big = Buffer.alloc(40, 0x61);
    expect(t.owe('a', big)).toBe(true);
    expect(t.owe('a', big)).toBe(false); // 80 > 64
    expect(t.take('a')?.length).toBe(40);
    expect(t.owe('a', big)).toBe(true); // room again once delivered
  });

  test('owed stanzas older than owedTtlMs are dropped, not delivered late', () => {
    const c = clock();
    const t = new BoshStateTable(LIMITS, c.now);
    t.owe('a', Buffer.from('<old/>'));
    c.advance(400);
    t.owe('a', Buffer.from('<new/>'));
    c.advance(200);
    expect(t.take('a')?.toString()).toBe('<new/>');
    t.owe('a', Buffer.from('<x/>'));
    c.advance(501);
    expect(t.take('a')).toBeNull();
  });
});

describe('BoshWebSessions', () => {
  const scope = { url: 'http://127.0.0.1:5280/http-bind', client: '127.0.0.1', user: 'alice' };
  const body = (s: string): Buffer => Buffer.from(s, 'utf8');
  const creation = body(`<body rid='1' to='imgate.test' xml:lang='en' wait='5' hold='1' ver='1.6' xmlns='${NS}'/>`);
  const created = (from: string): Buffer => body(`<body sid='S1' wait='5' requests='2'${from} xmlns='${NS}'></body>`);
  const auth = body(
    `<body rid='2' sid='S1' xmlns='${NS}'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0pw').toString('base64')}</auth></body>`,
  );
  const send = body(`<body rid='3' sid='S1' xmlns='${NS}'><message to='bob@imgate.test' id='m1' type='chat'><body>the project falcon</body></message></body>`);

  function login(s: BoshWebSessions, createdBody: Buffer): ReturnType<typeof extractBosh> {
    expect(s.annotate(true, scope, extractBosh(creation, true, 1 << 20))).toBeNull();
    expect(s.annotate(false, scope, extractBosh(createdBody, false, 1 << 20))).toBe(`${scope.url}|S1`);
    const a = extractBosh(auth, true, 1 << 20);
    s.annotate(true, scope, a);
    return a;
  }

  test('the login account is authcid@domain, from the creation request (joined to the response naming the sid)', () => {
    const s = new BoshWebSessions();
    const a = login(s, created(''));
    expect(a.messages).toEqual([expect.objectContaining({ kind: 'login', account: 'alice@imgate.test' })]);
  });

  test("without a pending creation request, the manager's `from` gives the domain", () => {
    const s = new BoshWebSessions();
    s.annotate(false, scope, extractBosh(created(" from='example.org'"), false, 1 << 20));
    const a = extractBosh(auth, true, 1 << 20);
    s.annotate(true, scope, a);
    expect(a.messages[0]?.account).toBe('alice@example.org');
  });

  test('later outgoing messages of the sid carry the account; another sid does not', () => {
    const s = new BoshWebSessions();
    login(s, created(''));
    const m = extractBosh(send, true, 1 << 20);
    s.annotate(true, scope, m);
    expect(m.messages[0]).toMatchObject({ kind: 'message', account: 'alice@imgate.test', peer: 'bob@imgate.test', text: 'the project falcon' });
    const other = extractBosh(Buffer.from(send.toString().replace("sid='S1'", "sid='S2'")), true, 1 << 20);
    s.annotate(true, scope, other);
    expect(other.messages[0]?.account).toBeUndefined();
  });

  test('a refused message is answered with a policy-violation error inside the next response of the sid, once', () => {
    const s = new BoshWebSessions();
    login(s, created(''));
    const m = extractBosh(send, true, 1 << 20);
    const key = s.annotate(true, scope, m) as string;
    s.refused(key, send, m.messages[0]!, 'no-falcon');
    expect(s.owes(key)).toBe(true);
    const resp = body(`<body sid='S1' xmlns='${NS}'><presence from='bob@imgate.test/web'/></body>`);
    const r = extractBosh(resp, false, 1 << 20);
    const k2 = s.annotate(false, scope, r);
    const sp = s.deliver(k2, r);
    expect(sp).not.toBeNull();
    const out = Buffer.concat([resp.subarray(0, sp!.start), sp!.bytes, resp.subarray(sp!.end)]).toString();
    expect(out).toBe(
      `<body sid='S1' xmlns='${NS}'><presence from='bob@imgate.test/web'/>` +
        `<message type='error' id='m1' to='alice@imgate.test' from='bob@imgate.test'><error type='modify'>` +
        "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Message blocked by imgate policy (rule no-falcon)</text></error></message></body>",
    );
    expect(s.deliver(k2, r)).toBeNull();
  });

  test("an empty '<body/>' response is reopened around the owed stanza", () => {
    const s = new BoshWebSessions();
    login(s, created(''));
    const m = extractBosh(send, true, 1 << 20);
    const key = s.annotate(true, scope, m) as string;
    s.refused(key, send, m.messages[0]!, 'r');
    const resp = body(`<body sid='S1' xmlns='${NS}'/>`);
    const r = extractBosh(resp, false, 1 << 20);
    const sp = s.deliver(s.annotate(false, scope, r), r)!;
    const out = Buffer.concat([resp.subarray(0, sp.start), sp.bytes, resp.subarray(sp.end)]).toString();
    expect(out).toMatch(new RegExp(`^<body sid='S1' xmlns='${NS}'><message type='error' id='m1'[^]*</message></body>$`));
  });

  test('a terminating response gets nothing and ends the session state', () => {
    const s = new BoshWebSessions();
    login(s, created(''));
    const m = extractBosh(send, true, 1 << 20);
    const key = s.annotate(true, scope, m) as string;
    s.refused(key, send, m.messages[0]!, 'r');
    const resp = body(`<body type='terminate' sid='S1' xmlns='${NS}'/>`);
    const r = extractBosh(resp, false, 1 << 20);
    expect(s.deliver(s.annotate(false, scope, r), r)).toBeNull();
    expect(s.table.get(key)).toBeUndefined();
  });

  test('the session table stays bounded under many sessions', () => {
    const s = new BoshWebSessions({ maxSessions: 10, idleMs: 60_000, maxOwedBytes: 1024, owedTtlMs: 1000 });
    for (let i = 0; i < 500; i++) {
      const b = body(`<body rid='2' sid='X${i}' xmlns='${NS}'/>`);
      s.annotate(true, scope, extractBosh(b, true, 1 << 20));
    }
    expect(s.table.size).toBe(10);
  });
});
