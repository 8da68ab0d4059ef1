import { createHash } from 'node:crypto';
import { parseClamdReply } from '../../../src/av/clamd';
import { signatureFromOutput } from '../../../src/av/command';
import { IcapReplyParser, infectionFromHeaders, parseHead } from '../../../src/av/icap-reply';
import { avSchema } from '../../../src/av/schema';
import { ScanError } from '../../../src/av/scanner';
import { configSchema } from '../../../src/config/schema';

describe('clamd reply', () => {
  test('OK, FOUND (with .UNOFFICIAL), numbered IDSESSION form', () => {
    expect(parseClamdReply('stream: OK\0')).toEqual({ status: 'clean' });
    expect(parseClamdReply('stream: Imgate.Test.Body.UNOFFICIAL FOUND\0')).toEqual({ status: 'infected', signature: 'Imgate.Test.Body.UNOFFICIAL' });
    expect(parseClamdReply('2: stream: Win.Test.EICAR_HDB-1 FOUND')).toEqual({ status: 'infected', signature: 'Win.Test.EICAR_HDB-1' });
  });
  test('size limit is a "limit" error, other replies protocol errors', () => {
    const limit = (): unknown => parseClamdReply('INSTREAM size limit exceeded. ERROR\0');
    expect(limit).toThrow(ScanError);
    try {
      limit();
    } catch (e) {
      expect((e as ScanError).kind).toBe('limit');
    }
    expect(() => parseClamdReply('UNKNOWN COMMAND')).toThrow(/UNKNOWN COMMAND/);
    expect(() => parseClamdReply('')).toThrow(/without a reply/);
  });
});

describe('ICAP reply parser', () => {
  const body = Buffer.from('hello world, some file content\n');
  const expected = { sha256: createHash('sha256').update(body).digest('hex'), size: body.length };
  const feedBytewise = (text: Buffer): ReturnType<IcapReplyParser['push']> => {
    const p = new IcapReplyParser(expected, 65_536);
    let v = null;
    for (const b of text) v = p.push(Buffer.from([b])) ?? v;
    return v;
  };
  const reply200 = (extra: string, httpStatus: number, payload: Buffer | null): Buffer => {
    const http = `HTTP/1.1 ${httpStatus} X\r\nContent-Type: text/plain\r\n\r\n`;
    const enc = payload ? `res-hdr=0, res-body=${http.length}` : `res-hdr=0, null-body=${http.length}`;
    const head = `ICAP/1.0 200 OK\r\nISTag: "x"\r\n${extra}Encapsulated: ${enc}\r\n\r\n${http}`;
    const chunks = payload ? `${payload.length.toString(16)}\r\n${payload.toString('latin1')}\r\n0\r\n\r\n` : '';
    return Buffer.from(head + chunks, 'latin1');
  };

  test('204 is clean, also after a 100 Continue, fed one byte at a time', () => {
    expect(feedBytewise(Buffer.from('ICAP/1.0 204 No Content\r\nISTag: "a"\r\n\r\n'))).toEqual({ status: 'clean' });
    expect(feedBytewise(Buffer.from('ICAP/1.0 100 Continue\r\n\r\nICAP/1.0 204 No Content\r\n\r\n'))).toEqual({ status: 'clean' });
  });
  test('infection headers: X-Infection-Found, X-Virus-ID, folded X-Violations-Found', () => {
    expect(feedBytewise(reply200('X-Infection-Found: Type=0; Resolution=2; Threat=Imgate.Test.Marker.UNOFFICIAL;\r\n', 403, Buffer.from('blocked'))))
      .toEqual({ status: 'infected', signature: 'Imgate.Test.Marker.UNOFFICIAL' });
    expect(infectionFromHeaders(parseHead('ICAP/1.0 200 OK\r\nX-Virus-ID: Eicar', 'ICAP').headers)).toBe('Eicar');
    expect(infectionFromHeaders(parseHead('ICAP/1.0 200 OK\r\nX-Violations-Found: 1\r\n\tfile.txt\r\n\tBad.Thing\r\n\t0\r\n\t0', 'ICAP').headers)).toBe('Bad.Thing');
  });
  test('echoed body = clean; replaced body, other HTTP status or removed body = infected', () => {
    expect(feedBytewise(reply200('', 200, body))).toEqual({ status: 'clean' });
    expect(feedBytewise(reply200('', 200, Buffer.from('hello world, SOME file content\n')))).toEqual({ status: 'infected', signature: 'icap: body replaced' });
    expect(feedBytewise(reply200('', 403, Buffer.from('no')))).toMatchObject({ status: 'infected', signature: 'icap: response replaced (HTTP 403)' });
    expect(feedBytewise(reply200('', 200, null))).toMatchObject({ status: 'infected' });
  });
  test('bounded: an endless head and error statuses are ScanErrors, never a hang', () => {
    const p = new IcapReplyParser(expected, 1024);
    expect(() => p.push(Buffer.alloc(2000, 'a'))).toThrow(/longer than 1024/);
    expect(() => new IcapReplyParser(expected, 1024).push(Buffer.from('ICAP/1.0 500 Server Error\r\n\r\n'))).toThrow(/500/);
    expect(() => new IcapReplyParser(expected, 1024).push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'))).toThrow(/status line/);
  });
});

describe('command output', () => {
  test('clamscan style and first line', () => {
    expect(signatureFromOutput('/tmp/x: Imgate.Test.Marker.UNOFFICIAL FOUND\n')).toBe('Imgate.Test.Marker.UNOFFICIAL');
    expect(signatureFromOutput('\n  Trojan.Foo  \nmore\n')).toBe('Trojan.Foo');
    expect(signatureFromOutput('')).toBe('unknown');
  });
});

describe('av config', () => {
  test('defaults: no scanners, block over limit', () => {
    const c = avSchema.parse(undefined);
    expect(c).toMatchObject({ scanners: [], over_limit: 'block', spool_threshold_bytes: 1_048_576 });
    expect(configSchema.parse({}).av.scanners).toEqual([]);
  });
  test('scanner defaults and validation', () => {
    const c = avSchema.parse({ scanners: [{ name: 'c', type: 'clamd', port: 3310 }] });
    expect(c.scanners[0]).toMatchObject({ fail: 'closed', required: true, host: '127.0.0.1', breaker: { timeout_ms: 30_000, reset_timeout_ms: 30_000 } });
    expect(() => avSchema.parse({ scanners: [{ name: 'c', type: 'clamd' }] })).toThrow(/exactly one of port or socket/);
    expect(() => avSchema.parse({ scanners: [{ name: 'c', type: 'clamd', port: 1, socket: '/s' }] })).toThrow(/exactly one/);
    expect(() => avSchema.parse({ scanners: [{ name: 'c', type: 'icap', url: 'http://x' }] })).toThrow(/icap:\/\//);
    expect(() => avSchema.parse({ scanners: [{ name: 'a', type: 'command', command: '/x' }, { name: 'a', type: 'command', command: '/y' }] })).toThrow(/duplicate/);
    expect(() => avSchema.parse({ scanners: [{ name: 'c', type: 'clamd', port: 1, fail: 'maybe' }] })).toThrow(/open or closed/);
    expect(() => avSchema.parse({ scaners: [] })).toThrow();
  });
});
