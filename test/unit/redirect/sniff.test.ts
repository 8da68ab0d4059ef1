// Destination extraction from a redirected client's first bytes: XMPP to=,
// HTTP Host, TLS SNI; split at every offset (and byte by byte), limits, and
// the bytes kept for the upstream unchanged.
import net from 'node:net';
import tls from 'node:tls';
import fc from 'fast-check';
import { HeadSniffer, type SniffMode, type SniffResult } from '../../../src/redirect';

const XMPP_OPEN = Buffer.from(
  "<?xml version='1.0'?><stream:stream to='imgate.test' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
);
// @xmpp/client's own header (double quotes, no declaration, to= after xmlns).
const XMPP_OPEN2 = Buffer.from('<stream:stream version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="Chat.Example.ORG." xml:lang="en">');
const HTTP_GET = Buffer.from('GET /gateway/gateway.dll?Action=open HTTP/1.1\r\nUser-Agent: MSMSGS\r\nHost: Gateway.Messenger.Hotmail.com\r\nContent-Length: 0\r\n\r\n');
const HTTP_PORT = Buffer.from('POST /x HTTP/1.1\r\nHost: origin.test:8080\r\nContent-Length: 3\r\n\r\nabc');

/** The first flight of a real node TLS client (its ClientHello records). */
async function captureHello(servername?: string): Promise<Buffer> {
  let got!: (b: Buffer) => void;
  const bytes = new Promise<Buffer>((r) => (got = r));
  const srv = net.createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      let p = 0;
      while (p + 5 <= all.length) p += 5 + all.readUInt16BE(p + 3);
      if (p === all.length) {
        got(all);
        s.destroy();
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
  c.on('error', () => {});
  const b = await bytes;
  c.destroy();
  await new Promise((r) => srv.close(r));
  return b;
}

function sniff(mode: SniffMode, chunks: Buffer[], max = 16384): { r: SniffResult; head: Buffer } {
  const s = new HeadSniffer(mode, max);
  let r: SniffResult = { kind: 'more' };
  for (const c of chunks) {
    r = s.push(c);
    if (r.kind !== 'more') break;
  }
  return { r, head: s.head() };
}

/** Every 2-way split, plus byte by byte: the same answer and the same head bytes. */
function everySplit(mode: SniffMode, bytes: Buffer, expected: SniffResult): void {
  for (let i = 0; i <= bytes.length; i++) {
    const { r, head } = sniff(mode, [bytes.subarray(0, i), bytes.subarray(i)]);
    expect({ i, r }).toEqual({ i, r: expected });
    // The head is every chunk pushed until the decision: all of it, or the
    // first chunk when that one decided (the rest stays unread for the relay).
    const decidedEarly = head.length === i && i < bytes.length;
    expect(head.equals(decidedEarly ? bytes.subarray(0, i) : bytes)).toBe(true);
  }
  const bytewise = [...bytes].map((b) => Buffer.from([b]));
  expect(sniff(mode, bytewise).r).toEqual(expected);
}

let hello: Buffer;
let helloNoSni: Buffer;
beforeAll(async () => {
  hello = await captureHello('web.whatsapp.com');
  helloNoSni = await captureHello();
});

describe('XMPP stream header', () => {
  const name = { kind: 'name', protocol: 'xmpp', name: { host: 'imgate.test', type: 'domain' } };
  test('to= at every split offset (auto and xmpp modes)', () => {
    everySplit('auto', XMPP_OPEN, name as SniffResult);
    everySplit('xmpp', XMPP_OPEN, name as SniffResult);
  });
  test('double quotes, to= after other attributes, case and trailing dot normalised', () => {
    everySplit('auto', XMPP_OPEN2, { kind: 'name', protocol: 'xmpp', name: { host: 'chat.example.org', type: 'domain' } });
  });
  test('a ">" inside an attribute value does not end the tag', () => {
    const b = Buffer.from(`<stream:stream id='a>b' to="x.test">`);
    everySplit('xmpp', b, { kind: 'name', protocol: 'xmpp', name: { host: 'x.test', type: 'domain' } });
  });
  test('the bytes after the header stay in the head', () => {
    const more = Buffer.concat([XMPP_OPEN, Buffer.from('<auth/>')]);
    const { r, head } = sniff('auto', [more]);
    expect(r.kind).toBe('name');
    expect(head.equals(more)).toBe(true);
  });
  test('no to=, a non-stream first element, a comment, a bad domain: no name, with the reason', () => {
    expect(sniff('auto', [Buffer.from("<stream:stream version='1.0'>")]).r).toEqual({ kind: 'none', protocol: 'xmpp', why: 'stream header without to=' });
    expect(sniff('auto', [Buffer.from('<html>')]).r).toMatchObject({ kind: 'none', protocol: 'xmpp', why: expect.stringContaining('not a stream header') });
    expect(sniff('xmpp', [Buffer.from('<!-- x --><stream:stream to="a">')]).r).toMatchObject({ kind: 'none', why: expect.stringContaining('comment') });
    expect(sniff('xmpp', [Buffer.from('<stream:stream to="a/b@c">')]).r).toMatchObject({ kind: 'none', why: expect.stringContaining('bad to=') });
    expect(sniff('xmpp', [Buffer.from('<stream:stream to="a&amp;b">')]).r).toMatchObject({ kind: 'none', why: expect.stringContaining('bad to=') });
    expect(sniff('xmpp', [Buffer.from('<stream:stream to="a" to="b">')]).r).toMatchObject({ kind: 'none', why: expect.stringContaining('duplicate') });
  });
});

describe('HTTP Host', () => {
  test('Host at every split offset', () => {
    everySplit('auto', HTTP_GET, { kind: 'name', protocol: 'http', name: { host: 'gateway.messenger.hotmail.com', type: 'domain' } });
    everySplit('http', HTTP_GET, { kind: 'name', protocol: 'http', name: { host: 'gateway.messenger.hotmail.com', type: 'domain' } });
  });
  test('a port in Host is kept; the body stays in the head', () => {
    everySplit('auto', HTTP_PORT, { kind: 'name', protocol: 'http', name: { host: 'origin.test', port: 8080, type: 'domain' } });
  });
  test('IPv6 Host, bare-LF heads, absolute-form targets', () => {
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.1\r\nHost: [::1]:81\r\n\r\n')]).r).toEqual({ kind: 'name', protocol: 'http', name: { host: '::1', port: 81, type: 'ipv6' } });
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.0\nHost: a.test\n\n')]).r).toMatchObject({ kind: 'name', name: { host: 'a.test' } });
    expect(sniff('auto', [Buffer.from('GET http://b.test:82/x HTTP/1.1\r\n\r\n')]).r).toMatchObject({ kind: 'name', name: { host: 'b.test', port: 82 } });
  });
  test('no Host, two Hosts, a Host with a user part or a path: no name', () => {
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.0\r\n\r\n')]).r).toEqual({ kind: 'none', protocol: 'http', why: 'request without a Host' });
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')]).r).toMatchObject({ kind: 'none', why: 'more than one Host header' });
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.1\r\nHost: u@a.test\r\n\r\n')]).r).toMatchObject({ kind: 'none', why: expect.stringContaining('bad Host') });
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n')]).r).toMatchObject({ kind: 'none', why: expect.stringContaining('bad Host') });
    expect(sniff('auto', [Buffer.from('GET / HTTP/1.1\r\nHost: a.test:99999\r\n\r\n')]).r).toMatchObject({ kind: 'none' });
  });
});

describe('TLS SNI (the ClientHello parser of src/protocols/tls)', () => {
  test('server_name of a real node ClientHello at every split offset', () => {
    everySplit('auto', hello, { kind: 'name', protocol: 'tls', name: { host: 'web.whatsapp.com', type: 'domain' } });
    everySplit('tls', hello, { kind: 'name', protocol: 'tls', name: { host: 'web.whatsapp.com', type: 'domain' } });
  });
  test('a ClientHello without server_name names nothing', () => {
    expect(sniff('auto', [helloNoSni]).r).toEqual({ kind: 'none', protocol: 'tls', why: 'ClientHello without server_name' });
  });
  test('a ClientHello larger than the limit is refused before it is buffered', () => {
    expect(sniff('auto', [hello], 64).r).toMatchObject({ kind: 'none', protocol: 'tls', why: expect.stringMatching(/over the 64-byte limit/) });
  });
});

describe('protocols that name no server, limits', () => {
  test('IRC, MSNP, OSCAR, YMSG first bytes: no name, decided on the first bytes', () => {
    expect(sniff('auto', [Buffer.from('NICK alice\r\n')]).r).toEqual({ kind: 'none', protocol: 'other', why: '"NICK" is not an HTTP request' });
    expect(sniff('auto', [Buffer.from('PASS x\r\n')]).r).toMatchObject({ kind: 'none', protocol: 'other' });
    expect(sniff('auto', [Buffer.from('VER 1 MSNP8 CVR0\r\n')]).r).toMatchObject({ kind: 'none', protocol: 'other' });
    expect(sniff('auto', [Buffer.from([0x2a, 0x01, 0x00, 0x01])]).r).toEqual({ kind: 'none', protocol: 'other', why: 'first byte 0x2a is not TLS, XMPP or HTTP' });
    expect(sniff('auto', [Buffer.from('YMSG\x00\x10\x00\x00', 'latin1')]).r).toMatchObject({ kind: 'none', protocol: 'other' });
  });
  test('an HTTP method split from its space still counts', () => {
    expect(sniff('auto', [Buffer.from('OPTI'), Buffer.from('ONS * HTTP/1.1\r\nHost: o.test\r\n\r\n')]).r).toMatchObject({ kind: 'name', name: { host: 'o.test' } });
  });
  test('nothing found within max bytes: no name; bytes past the limit are never scanned', () => {
    const big = Buffer.from(`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(200)}\r\nHost: late.test\r\n\r\n`);
    expect(sniff('auto', [big], 100).r).toEqual({ kind: 'none', protocol: 'http', why: 'no server name in the first 100 bytes' });
    const s = new HeadSniffer('auto', 100);
    for (let i = 0; i < 99; i++) expect(s.push(Buffer.from(i === 0 ? '<' : ' ')).kind).toBe('more');
    expect(s.push(Buffer.from(' ')).kind).toBe('none');
    expect(s.bytes).toBe(100);
    // Once decided, further bytes are not taken.
    s.push(Buffer.alloc(1000));
    expect(s.bytes).toBe(100);
  });
  test('finish() (timeout, end) decides with no name', () => {
    const s = new HeadSniffer('auto', 100);
    s.push(Buffer.from('<stream:str'));
    expect(s.finish('no server name within 5 ms')).toEqual({ kind: 'none', protocol: 'xmpp', why: 'no server name within 5 ms' });
    expect(new HeadSniffer('auto', 10).finish('silent')).toEqual({ kind: 'none', protocol: null, why: 'silent' });
  });
  test('arbitrary bytes in arbitrary chunks: never throws, never scans past the limit, head is the input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.constantFrom<SniffMode>('auto', 'xmpp', 'http', 'tls'), (chunks, mode) => {
        const s = new HeadSniffer(mode, 256);
        const fed: Buffer[] = [];
        for (const c of chunks) {
          const r = s.push(Buffer.from(c));
          if (c.length > 0) fed.push(Buffer.from(c));
          if (r.kind !== 'more') break;
        }
        expect(s.head().equals(Buffer.concat(fed))).toBe(true);
        expect(s.finish('end').kind).not.toBe('more');
      }),
      { numRuns: 300 },
    );
  });
});
