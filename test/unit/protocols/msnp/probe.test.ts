import { msnpModule } from '../../../../src/protocols/msnp';

const probe = (s: string, side: 'c2s' | 's2c' = 'c2s'): string => msnpModule.probe(side, Buffer.from(s, 'latin1'));

describe('msnp probe', () => {
  it.each([
    'VER 1 MSNP8 CVR0\r\n',
    'VER 1 MSNP18 MSNP17 CVR0\r\n',
    'USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n',
    'ANS 1 jujurius@msn.com 1115371039.15845 17069658\r\n',
    'MSG 88 N 359\r\nMIME-Version: 1.0\r\n',
  ])('matches %j', (s) => {
    expect(probe(s)).toBe('match');
  });

  it('VER is recognised before its line ends', () => {
    expect(probe('VER 1 MSNP15 ')).toBe('match');
  });

  it("answers 'more' on every short prefix of a login line", () => {
    for (const line of ['VER 1 MSNP8 CVR0\r\n', 'USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n', 'ANS 1 jujurius@msn.com 1115371039.15845 17069658\r\n']) {
      for (let i = 1; i < line.length - 1; i++) {
        const r = probe(line.slice(0, i));
        expect([line.slice(0, i), r]).toEqual([line.slice(0, i), line.startsWith('VER') && r === 'match' ? 'match' : 'more']);
      }
    }
  });

  it.each([
    'NICK brotest\r\n',
    'USER brotest * * :brotest\r\n',
    'CAP LS 302\r\n',
    'EHLO mail.example.org\r\n',
    '220 smtp.example.org ESMTP\r\n',
    'GET / HTTP/1.1\r\n',
    'POST /gateway/gateway.dll?Action=open HTTP/1.1\r\n',
    '\x16\x03\x01\x02\x00',
    '<?xml version="1.0"?><stream:stream',
    'USR 1 TWN I bob@hotmail.com\r\n',
    'VER x MSNP8\r\n',
    'MSG 1 N 5\r\nhello',
    'PNG\r\n',
  ])("answers 'no' to %j", (s) => {
    expect(probe(s)).toBe('no');
  });

  it('never matches on the server side', () => {
    expect(probe('VER 1 MSNP8 CVR0\r\n', 's2c')).toBe('no');
  });

  it("stops saying 'more' after 512 bytes without a line end", () => {
    expect(probe(`USR 1 a@b ${'x'.repeat(600)}`)).toBe('no');
  });
});
