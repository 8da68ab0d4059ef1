import { parseLine, paramText, prefixNick } from '../../../../src/protocols/irc/parse';
import { parseCtcp, parseDcc, decodeDccAddress } from '../../../../src/protocols/irc/ctcp';

const params = (s: string): string[] => {
  const b = Buffer.from(s, 'latin1');
  return parseLine(b).params.map((p) => paramText(b, p));
};

describe('IRC line parser', () => {
  test('tags, prefix, command, params and trailing', () => {
    const b = Buffer.from('@time=2025-07-28T20:51:00Z;msgid=x :tim1!t@h PRIVMSG #testing :maybe we do\r\n');
    const l = parseLine(b);
    expect(l.tags).toBe('time=2025-07-28T20:51:00Z;msgid=x');
    expect(l.prefix).toBe('tim1!t@h');
    expect(prefixNick(l.prefix)).toBe('tim1');
    expect(l.command).toBe('PRIVMSG');
    expect(l.trailing).toBe(true);
    expect(l.params.map((p) => paramText(b, p))).toEqual(['#testing', 'maybe we do']);
  });

  test('odd whitespace as in zeek irc-whitespace', () => {
    expect(params(' PRIVMSG          #BROTEST      :test\r\n')).toEqual(['#BROTEST', 'test']);
    expect(parseLine(Buffer.from('    NICK brotest\r\n')).command).toBe('NICK');
    expect(params('USER brotest * * * * * \r\n')).toEqual(['brotest', '*', '*', '*', '*', '*']);
    expect(params('PRIVMSG #brotest test\r\n')).toEqual(['#brotest', 'test']);
  });

  test('malformed lines parse without throwing', () => {
    expect(parseLine(Buffer.from('353 \n')).command).toBe('353');
    expect(parseLine(Buffer.from('\r\n')).command).toBe('');
    expect(parseLine(Buffer.from('@only-tags\n')).command).toBe('');
    expect(parseLine(Buffer.from(':prefix-only\n')).prefix).toBe('prefix-only');
  });
});

describe('CTCP and DCC', () => {
  test('ACTION and other CTCPs', () => {
    expect(parseCtcp('\x01ACTION waves\x01')).toMatchObject({ command: 'ACTION', args: 'waves' });
    expect(parseCtcp('\x01VERSION\x01')).toMatchObject({ command: 'VERSION', args: '' });
    expect(parseCtcp('plain')).toBeNull();
  });

  test('DCC SEND with integer IPv4, quoted names, IPv6, unquoted spaces', () => {
    expect(parseDcc('SEND ladyvampress-default(2011-07-07)-OS.zip 3519391895 1024 42208')).toEqual({
      type: 'SEND',
      argument: 'ladyvampress-default(2011-07-07)-OS.zip',
      address: '209.197.168.151',
      port: 1024,
      size: 42208,
    });
    expect(parseDcc('SEND "my file.txt" 2130706433 5000 12')).toMatchObject({ argument: 'my file.txt', address: '127.0.0.1', port: 5000, size: 12 });
    expect(parseDcc('SEND my file.txt 2130706433 5000 12')).toMatchObject({ argument: 'my file.txt', address: '127.0.0.1', port: 5000, size: 12 });
    expect(parseDcc('SEND f.bin 2001:DB8::1 5000 7')).toMatchObject({ address: '2001:db8::1', port: 5000, size: 7 });
    expect(parseDcc('CHAT chat 167772167 59214')).toMatchObject({ type: 'CHAT', argument: 'chat', address: '10.0.0.7', port: 59214 });
  });

  test('malformed host and port (zeek negative captures)', () => {
    expect(parseDcc('SEND file.txt  5000 1024')).toMatchObject({ argument: 'file.txt', malformed: 'host' });
    expect(parseDcc('SEND file.txt 3232235876 abc 1024')).toMatchObject({ argument: 'file.txt', address: '192.168.1.100', malformed: 'port' });
    expect(decodeDccAddress('99999999999')).toBeUndefined();
    expect(decodeDccAddress('4294967296')).toBeUndefined();
  });
});
