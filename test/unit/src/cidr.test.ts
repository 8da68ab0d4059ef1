import fc from 'fast-check';
import { CidrList, normalizeAddress, parseCidr, parseIp } from '../../../src/util/cidr';
import { compileGlobs } from '../../../src/util/glob';

describe('CIDR', () => {
  test('IPv4 ranges', () => {
    const l = new CidrList(['127.0.0.0/8', '10.1.0.0/16', '192.168.1.7']);
    expect(l.matches('127.0.0.1')).toBe(true);
    expect(l.matches('127.255.255.255')).toBe(true);
    expect(l.matches('128.0.0.1')).toBe(false);
    expect(l.matches('10.1.200.3')).toBe(true);
    expect(l.matches('10.2.0.1')).toBe(false);
    expect(l.matches('192.168.1.7')).toBe(true);
    expect(l.matches('192.168.1.8')).toBe(false);
  });

  test('IPv4-mapped IPv6 clients match IPv4 CIDRs', () => {
    const l = new CidrList(['127.0.0.0/8']);
    expect(l.matches('::ffff:127.0.0.1')).toBe(true);
    expect(l.matches('::FFFF:127.1.2.3')).toBe(true);
    expect(l.matches('::ffff:7f00:1')).toBe(true);
    expect(l.matches('::ffff:128.0.0.1')).toBe(false);
    expect(l.matches('::1')).toBe(false);
  });

  test('IPv6 ranges', () => {
    const l = new CidrList(['::1/128', 'fd00::/8', '2001:db8:abcd::/48']);
    expect(l.matches('::1')).toBe(true);
    expect(l.matches('0:0:0:0:0:0:0:1')).toBe(true);
    expect(l.matches('::2')).toBe(false);
    expect(l.matches('fd12:3456::1')).toBe(true);
    expect(l.matches('fe80::1')).toBe(false);
    expect(l.matches('2001:db8:abcd:12::1')).toBe(true);
    expect(l.matches('2001:db8:abce::1')).toBe(false);
    expect(l.matches('fe80::1%eth0')).toBe(false);
    expect(new CidrList(['fe80::/10']).matches('fe80::1%eth0')).toBe(true);
    expect(l.matches('127.0.0.1')).toBe(false);
  });

  test('non-addresses never match', () => {
    const l = new CidrList(['0.0.0.0/0', '::/0']);
    expect(l.matches('example.com')).toBe(false);
    expect(l.matches('')).toBe(false);
    expect(l.matches(undefined)).toBe(false);
    expect(l.matches('1.2.3')).toBe(false);
    expect(l.matches('1.2.3.4')).toBe(true);
  });

  test('odd prefix lengths', () => {
    const l = new CidrList(['10.0.0.0/9']);
    expect(l.matches('10.127.255.255')).toBe(true);
    expect(l.matches('10.128.0.0')).toBe(false);
  });

  test('bad CIDRs throw clear errors', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow('invalid CIDR "10.0.0.0/33": prefix must be 0-32');
    expect(() => parseCidr('::/129')).toThrow('prefix must be 0-128');
    expect(() => parseCidr('1.2.3.4/x')).toThrow('prefix must be 0-32');
    expect(() => parseCidr('abc/8')).toThrow('not an IP address');
    expect(() => parseCidr('')).toThrow('empty');
  });

  test('parseIp agrees with the dotted and hex forms (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const a = parseIp(ip);
        const b = parseIp(`::ffff:${ip}`);
        return a !== null && b !== null && Buffer.from(a).equals(Buffer.from(b));
      }),
    );
    fc.assert(fc.property(fc.ipV6(), (ip) => parseIp(ip) !== null));
  });

  test('normalizeAddress strips the mapped prefix only', () => {
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('10.0.0.1')).toBe('10.0.0.1');
  });
});

describe('globs', () => {
  test('match case-insensitively with * and ?', () => {
    const m = compileGlobs(['*.example.com', 'chat?.net', 'Exact']);
    expect(m('a.example.com')).toBe(true);
    expect(m('A.B.EXAMPLE.COM')).toBe(true);
    expect(m('example.com')).toBe(false);
    expect(m('chat1.net')).toBe(true);
    expect(m('chat12.net')).toBe(false);
    expect(m('exact')).toBe(true);
    expect(m('exactly')).toBe(false);
  });
  test('regex metacharacters are literal', () => {
    const m = compileGlobs(['a+b.(c)']);
    expect(m('a+b.(c)')).toBe(true);
    expect(m('aab.(c)')).toBe(false);
  });
});
