// The HTTP layer itself: probe, passthrough of non-IM connections, malformed
// heads, ambiguous framing, size limits and the pipelining bound.
import { probeHttp } from '../../../../src/protocols/http';
import { BOSH, Harness, XML, chunked, everySplit, request, response } from './harness';

const create = `<body rid='1' to='imgate.test' xmlns='${BOSH}'/>`;

describe('http: probe', () => {
  it('matches request lines, says more on prefixes, no otherwise', () => {
    const m = (s: string) => probeHttp('c2s', Buffer.from(s));
    expect(m('POST /http-bind HTTP/1.1\r\n')).toBe('match');
    expect(m('GET http://x/ HTTP/1.0\r\n')).toBe('match');
    for (const p of ['G', 'POST', 'POST ', 'POST /x', 'POST /x HTTP/1.', 'POST /x HTTP/1.1', 'POST /x HTTP/1.1\r']) expect(m(p)).toBe('more');
    expect(m(`GET /${'a'.repeat(300)}`)).toBe('match');
    for (const p of ['VER 1 MSNP8 CVR0\r\n', 'NICK x\r\n', '<stream:stream', 'GET  / HTTP/1.1\r\n', 'GET / HTTP/2.0\r\n', 'GET / HTTP/1.1\n', '\x16\x03\x01']) expect(m(p)).toBe('no');
    expect(probeHttp('s2c', Buffer.from('HTTP/1.1 200 OK\r\n'))).toBe('no');
  });
});

describe('http: framing and limits', () => {
  it('a connection whose first request is not IM goes passthrough at once, unchanged', () => {
    const req = request('GET', '/index.html', { Accept: '*/*' }) + 'garbage after';
    const h = new Harness().client(req);
    expect(h.session.passthrough).toBe(true);
    expect(h.serverGot()).toBe(req);
  });

  it('non-IM requests after an IM one stream through unchanged (chunked response, HEAD, 204)', () => {
    const resp = response('200 OK', { 'Transfer-Encoding': 'chunked' }, chunked('x'.repeat(50)));
    const h = everySplit([
      ['c2s', request('POST', '/http-bind', XML, create)],
      ['s2c', response('200 OK', XML, `<body xmlns='${BOSH}' sid='a'/>`)],
      ['c2s', request('GET', '/big', {}) + request('HEAD', '/big', {}) + request('GET', '/none', {})],
      ['s2c', resp + 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' + 'HTTP/1.1 204 No Content\r\n\r\n'],
    ]);
    expect(h.closed).toBeNull();
    expect(h.clientGot().endsWith(resp + 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n')).toBe(true);
  });

  it('malformed heads and ambiguous framing close the tunnel with a reason', () => {
    const start = request('POST', '/http-bind', XML, create);
    const cases: Array<[string, RegExp]> = [
      ['POST /http-bind HTTP/1.1\r\nHost: x\nContent-Length: 3\r\n\r\nabc', /bare CR or LF/],
      ['POST /http-bind HTTP/1.1\r\nNo colon here\r\n\r\n', /without colon/],
      ['POST /http-bind HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /both Transfer-Encoding and Content-Length/],
      ['POST /http-bind HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', /invalid Content-Length/],
      ['POST /http-bind HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', /does not end in chunked/],
      ['POST /http-bind HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /invalid chunk size/],
      ['BAD LINE\r\n\r\n', /malformed request line/],
    ];
    for (const [bad, re] of cases) {
      const h = everySplit([['c2s', start], ['c2s', bad]]);
      expect(h.closed).toMatch(re);
    }
  });

  it('limits are checked before buffering: long line, long head, large held body', () => {
    const start = request('POST', '/http-bind', XML, create);
    const longLine = `POST /http-bind HTTP/1.1\r\nX-A: ${'a'.repeat(9000)}\r\n\r\n`;
    const h1 = new Harness().client(start).client(longLine.slice(0, 8300));
    expect(h1.closed).toMatch(/line longer than 8192/);
    const h2 = new Harness({ maxUnitBytes: 2048 }).client(start).client(request('POST', '/http-bind', XML, `<body xmlns='${BOSH}'>${'x'.repeat(3000)}</body>`));
    expect(h2.closed).toMatch(/exceeds 2048/);
    const h3 = new Harness({ maxUnitBytes: 2048 }).client(start).client(request('POST', '/http-bind', { ...XML, 'Transfer-Encoding': 'chunked' }, chunked('y'.repeat(3000), 1000)));
    expect(h3.closed).toMatch(/held c2s message larger than 2048|exceeds 2048/);
    let many = '';
    for (let i = 0; i < 70; i++) many += request('GET', `/x${i}`, {});
    const h4 = new Harness().client(start).client(many);
    expect(h4.closed).toMatch(/more than 64 requests/);
  });
});

describe('probe: short openings that are not HTTP are refused at once', () => {
  // A client-first protocol that opens with a short run of letters and waits
  // must not stall until the probe timeout because the run "could still be a
  // method" (the bench's 16 x 'q' request did, before methods were upper-case only).
  test.each(['qqqqqqqqqqqqqqqq', 'hello', '1234', 'get / HTTP/1.1\r\n'])('%j -> no', (s) => {
    expect(probeHttp('c2s', Buffer.from(s, 'latin1'))).toBe('no');
  });
  test.each(['GET / HTTP/1.1\r\n', 'M-SEARCH * HTTP/1.1\r\n', 'PROPFIND /x HTTP/1.1\r\n'])('%j -> match', (s) => {
    expect(probeHttp('c2s', Buffer.from(s, 'latin1'))).toBe('match');
  });
  test('a method prefix still waits for more', () => {
    expect(probeHttp('c2s', Buffer.from('POS', 'latin1'))).toBe('more');
  });
});
