// Parser unit tests on the exact byte sequences real peers sent (peers.md §1-2).
import { IcapParser, type ParsedRequest } from '../../../icap/parser';
import type { IcapProtocolError } from '../../../icap/errors';

const LIMITS = { maxIcapHeaderBytes: 65536, maxHttpHeaderBytes: 65536, maxLineBytes: 8192, maxHeaderCount: 200 };
const DATE = 'Tue, 24 Nov 2026 11:00:00 GMT';

interface Rec { reqs: ParsedRequest[]; bodies: Buffer[][]; events: string[]; errors: IcapProtocolError[] }

function make(limits = LIMITS, opts: { autoNext?: boolean; autoContinue?: boolean } = {}): { p: IcapParser; rec: Rec } {
  const rec: Rec = { reqs: [], bodies: [], events: [], errors: [] };
  const autoNext = opts.autoNext ?? true;
  // eslint-disable-next-line prefer-const
  let p: IcapParser;
  p = new IcapParser(limits, {
    onIcapHead: (h) => { rec.events.push(`head:${h.method}`); return true; },
    onRequest: (r) => { rec.reqs.push(r); rec.bodies.push([]); rec.events.push('request'); },
    onBody: (c) => { rec.bodies[rec.bodies.length - 1]!.push(Buffer.from(c)); return true; },
    onPreviewEnd: () => { rec.events.push('preview-end'); if (opts.autoContinue) p.continuePreview(); else if (autoNext) p.nextMessage(); },
    onMessageEnd: () => { rec.events.push('end'); if (autoNext) p.nextMessage(); },
    onError: (e) => { rec.errors.push(e); rec.events.push(`error:${e.status}`); },
  });
  return { p, rec };
}

const squidOptions = 'OPTIONS icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1:1344\r\nAllow: 206, trailers\r\n\r\n';
const squidReqmodPreview = `REQMOD icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1:1344\r\nDate: ${DATE}\r\nProxy-Authorization: Basic YWxpY2U6YWxpY2Vwdw==\r\nEncapsulated: req-hdr=0, req-body=175\r\nPreview: 10\r\nAllow: 204, trailers\r\nX-Client-IP: 127.0.0.1\r\nX-Client-Username: alice\r\n\r\nPOST http://127.0.0.1:18080/post HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: 10\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: 127.0.0.1:18080\r\n\r\na\r\nsmall-body\r\n0; ieof\r\n\r\n`;
const squidRespmodPreview = `RESPMOD icap://127.0.0.1:1344/respmod ICAP/1.0\r\nHost: 127.0.0.1:1344\r\nDate: ${DATE}\r\nEncapsulated: req-hdr=0, res-hdr=111, res-body=187\r\nPreview: 41\r\nAllow: 204, trailers\r\nX-Client-IP: 127.0.0.1\r\nX-Client-Username: alice\r\n\r\nGET http://127.0.0.1:18080/via-parent HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nHost: 127.0.0.1:18080\r\n\r\nHTTP/1.1 200 OK\r\nDate: ${DATE}\r\nContent-Length: 41\r\n\r\n29\r\nhello from origin GET /via-parent body=0\n\r\n0; ieof\r\n\r\n`;
const squidConnect = `REQMOD icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1:1344\r\nDate: ${DATE}\r\nProxy-Authorization: Basic YWxpY2U6YWxpY2Vwdw==\r\nEncapsulated: req-hdr=0, null-body=84\r\nPreview: 0\r\nAllow: 204, trailers\r\nX-Client-IP: 127.0.0.1\r\nX-Client-Username: alice\r\n\r\nCONNECT 127.0.0.1:18080 HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nHost: 127.0.0.1:18080\r\n\r\n`;
const LM = 'Tue Nov 24 11:00:00 2026';
const cicapNoPreview = `REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: C-ICAP-Client-Library/0.5.10\r\nEncapsulated: req-hdr=0, req-body=149\r\n\r\nGET http://127.0.0.1/up HTTP/1.0\r\nLast-Modified: ${LM}\r\nContent-Length: 17\r\nContent-Length: 17\r\nUser-Agent: C-ICAP-Client/x.xx\r\n\r\n11\r\nhello clean body\n\r\n0\r\n\r\n`;

const feed = (p: IcapParser, s: string): void => p.execute(Buffer.from(s, 'latin1'));
const bodyOf = (rec: Rec, i = 0): string => Buffer.concat(rec.bodies[i]!).toString('latin1');

describe('IcapParser on captured peer bytes', () => {
  test('Squid OPTIONS without Encapsulated', () => {
    const { p, rec } = make();
    feed(p, squidOptions);
    expect(rec.errors).toEqual([]);
    expect(rec.events).toEqual(['head:OPTIONS', 'request', 'end']);
    expect(rec.reqs[0]!.head.uri).toBe('icap://127.0.0.1:1344/reqmod');
    expect(rec.reqs[0]!.head.headers.get('allow')).toBe('206, trailers');
    expect(rec.reqs[0]!.hasBody).toBe(false);
  });

  test('Squid REQMOD with Preview: 10 and ieof', () => {
    const { p, rec } = make();
    feed(p, squidReqmodPreview);
    expect(rec.errors).toEqual([]);
    expect(rec.events).toEqual(['head:REQMOD', 'request', 'end']); // ieof: no preview-end, no 100
    const r = rec.reqs[0]!;
    expect(r.preview).toBe(10);
    expect(r.httpRequest!.startLine).toBe('POST http://127.0.0.1:18080/post HTTP/1.1');
    expect(r.httpRequest!.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(r.head.headers.get('x-client-username')).toBe('alice');
    expect(r.raw.length).toBe(175);
    expect(bodyOf(rec)).toBe('small-body');
  });

  test('Squid RESPMOD with preview covering the whole body', () => {
    const { p, rec } = make();
    feed(p, squidRespmodPreview);
    expect(rec.errors).toEqual([]);
    const r = rec.reqs[0]!;
    expect(r.httpRequest!.startLine).toBe('GET http://127.0.0.1:18080/via-parent HTTP/1.1');
    expect(r.httpResponse!.startLine).toBe('HTTP/1.1 200 OK');
    expect(r.httpResponse!.headers).toEqual([['Date', DATE], ['Content-Length', '41']]);
    expect(bodyOf(rec)).toBe('hello from origin GET /via-parent body=0\n');
    expect(rec.events).toEqual(['head:RESPMOD', 'request', 'end']);
  });

  test('Squid CONNECT: Preview: 0 with null-body needs no chunk', () => {
    const { p, rec } = make();
    feed(p, squidConnect);
    expect(rec.errors).toEqual([]);
    expect(rec.events).toEqual(['head:REQMOD', 'request', 'end']);
    expect(rec.reqs[0]!.hasBody).toBe(false);
    expect(rec.reqs[0]!.preview).toBe(0);
    expect(rec.reqs[0]!.httpRequest!.startLine).toBe('CONNECT 127.0.0.1:18080 HTTP/1.1');
  });

  test('c-icap-client without preview, duplicated Content-Length kept in order', () => {
    const { p, rec } = make();
    feed(p, cicapNoPreview);
    expect(rec.errors).toEqual([]);
    expect(rec.reqs[0]!.httpRequest!.headers).toEqual([
      ['Last-Modified', LM], ['Content-Length', '17'], ['Content-Length', '17'], ['User-Agent', 'C-ICAP-Client/x.xx'],
    ]);
    expect(bodyOf(rec)).toBe('hello clean body\n');
    expect(rec.reqs[0]!.preview).toBeNull();
  });

  test('all five messages pipelined in one write, then byte by byte', () => {
    const all = squidOptions + squidReqmodPreview + squidRespmodPreview + squidConnect + cicapNoPreview;
    for (const split of [false, true]) {
      const { p, rec } = make();
      if (split) for (let i = 0; i < all.length; i++) feed(p, all[i]!);
      else feed(p, all);
      expect(rec.errors).toEqual([]);
      expect(rec.reqs.map((r) => r.head.method)).toEqual(['OPTIONS', 'REQMOD', 'RESPMOD', 'REQMOD', 'REQMOD']);
      expect(bodyOf(rec, 1)).toBe('small-body');
      expect(bodyOf(rec, 4)).toBe('hello clean body\n');
    }
  });

  test('preview without ieof waits, then continues after continuePreview()', () => {
    const { p, rec } = make(LIMITS, { autoNext: false });
    const req = 'GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n';
    const res = 'HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n';
    feed(p, `RESPMOD icap://h/respmod ICAP/1.0\r\nHost: h\r\nPreview: 16\r\nEncapsulated: req-hdr=0, res-hdr=${req.length}, res-body=${req.length + res.length}\r\n\r\n${req}${res}10\r\nAAAAAAAAAABBBBBB\r\n0\r\n\r\n`);
    expect(rec.events).toEqual(['head:RESPMOD', 'request', 'preview-end']);
    feed(p, 'e\r\nBBBBCCCCCCCCCC\r\n0\r\n\r\n'); // arrives only after 100; parser holds it
    expect(rec.events).toEqual(['head:RESPMOD', 'request', 'preview-end']);
    p.continuePreview();
    expect(rec.events).toEqual(['head:RESPMOD', 'request', 'preview-end', 'end']);
    expect(bodyOf(rec)).toBe('AAAAAAAAAABBBBBBBBBBCCCCCCCCCC');
  });

  test('chunk extensions tolerated; ieof with odd spacing and case', () => {
    const { p, rec } = make();
    const req = 'POST http://h/ HTTP/1.1\r\n\r\n';
    feed(p, `REQMOD icap://h/r ICAP/1.0\r\nPreview: 5\r\nEncapsulated: req-hdr=0, req-body=${req.length}\r\n\r\n${req}3;name=val\r\nabc\r\n0 ;IEOF\r\n\r\n`);
    expect(rec.errors).toEqual([]);
    expect(bodyOf(rec)).toBe('abc');
    expect(rec.events).toEqual(['head:REQMOD', 'request', 'end']);
  });

  test('trailer lines after the last chunk are skipped', () => {
    const { p, rec } = make();
    const req = 'POST http://h/ HTTP/1.1\r\n\r\n';
    feed(p, `REQMOD icap://h/r ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=${req.length}\r\n\r\n${req}3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n`);
    expect(rec.errors).toEqual([]);
    expect(rec.events).toEqual(['head:REQMOD', 'request', 'end']);
  });
});

describe('IcapParser errors carry ICAP status codes', () => {
  const cases: Array<[string, string, number]> = [
    ['unknown method', 'FOO icap://h/x ICAP/1.0\r\nHost: h\r\n\r\n', 501],
    ['wrong version', 'OPTIONS icap://h/x ICAP/2.0\r\nHost: h\r\n\r\n', 505],
    ['garbage version', 'OPTIONS icap://h/x HTTP/1.1\r\nHost: h\r\n\r\n', 400],
    ['malformed request line', 'OPTIONS\r\nHost: h\r\n\r\n', 400],
    ['header without colon', 'OPTIONS icap://h/x ICAP/1.0\r\nHost h\r\n\r\n', 400],
    ['REQMOD without Encapsulated', 'REQMOD icap://h/x ICAP/1.0\r\nHost: h\r\n\r\n', 400],
    ['non-monotonic offsets', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=0\r\n\r\n', 400],
    ['offset not starting at 0', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-hdr=5, req-body=9\r\n\r\n', 400],
    ['res-body in REQMOD', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: res-body=0\r\n\r\n', 400],
    ['req-body in RESPMOD', 'RESPMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-body=0\r\n\r\n', 400],
    ['two bodies', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-body=0, null-body=4\r\n\r\n', 400],
    ['unknown entry', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: foo=0\r\n\r\n', 400],
    ['offset mismatch with block', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-hdr=0, null-body=10\r\n\r\nGET / HTTP/1.1\r\n\r\n', 400],
    ['bad chunk size', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-body=0\r\n\r\nzz\r\n', 400],
    ['chunk not followed by CRLF', 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-body=0\r\n\r\n3\r\nabcX\r\n', 400],
    ['bad preview', 'REQMOD icap://h/x ICAP/1.0\r\nPreview: x\r\nEncapsulated: req-body=0\r\n\r\n', 400],
  ];
  test.each(cases)('%s', (_name, input, status) => {
    const { p, rec } = make();
    feed(p, input);
    expect(rec.errors.map((e) => e.status)).toEqual([status]);
  });

  test('ICAP header block limit is enforced before buffering', () => {
    const { p, rec } = make({ ...LIMITS, maxIcapHeaderBytes: 256 });
    feed(p, 'OPTIONS icap://h/x ICAP/1.0\r\n');
    for (let i = 0; i < 40 && rec.errors.length === 0; i++) feed(p, `X-Pad-${i}: aaaaaaaa\r\n`);
    expect(rec.errors.map((e) => e.status)).toEqual([400]);
    expect(p.buffered()).toBe(0);
  });

  test('line, header count and HTTP header limits', () => {
    const long = make({ ...LIMITS, maxLineBytes: 64 });
    feed(long.p, `OPTIONS icap://h/x ICAP/1.0\r\nX-Long: ${'a'.repeat(100)}\r\n\r\n`);
    expect(long.rec.errors[0]!.status).toBe(400);
    const many = make({ ...LIMITS, maxHeaderCount: 3 });
    feed(many.p, 'OPTIONS icap://h/x ICAP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n');
    expect(many.rec.errors[0]!.status).toBe(400);
    const http = make({ ...LIMITS, maxHttpHeaderBytes: 100 });
    feed(http.p, 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-hdr=0, null-body=200\r\n\r\n');
    expect(http.rec.errors[0]!.status).toBe(400);
    const chunkLine = make({ ...LIMITS, maxLineBytes: 16 });
    feed(chunkLine.p, 'REQMOD icap://h/x ICAP/1.0\r\nEncapsulated: req-body=0\r\n\r\n');
    feed(chunkLine.p, '1' + ';x'.repeat(20));
    expect(chunkLine.rec.errors[0]!.status).toBe(400);
  });
});
