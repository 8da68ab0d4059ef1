// Server names, the upstreams map and loop protection.
import { isOwnAddress, parseAuthority, parseHost, parseHostPort, UpstreamMap } from '../../../src/redirect';

describe('server names', () => {
  test('hosts: names, IP literals, normalisation; junk refused', () => {
    expect(parseHost('Imgate.Test.')).toEqual({ host: 'imgate.test', type: 'domain' });
    expect(parseHost('10.0.0.1')).toEqual({ host: '10.0.0.1', type: 'ipv4' });
    expect(parseHost('[::1]')).toEqual({ host: '::1', type: 'ipv6' });
    for (const bad of ['', 'a b', 'a/b', 'a@b', '-a.test', 'a..b', `${'a'.repeat(64)}.test`, '[nope]', 'a\r\nb']) expect(parseHost(bad)).toBeNull();
  });
  test('authorities with ports', () => {
    expect(parseAuthority('a.test:8080')).toEqual({ host: 'a.test', port: 8080, type: 'domain' });
    expect(parseAuthority('[::1]:81')).toEqual({ host: '::1', port: 81, type: 'ipv6' });
    expect(parseAuthority('a.test:')).toEqual({ host: 'a.test', type: 'domain' });
    for (const bad of ['a.test:0', 'a.test:65536', 'a.test:x', 'a:1:2', '[::1]x', '::1']) expect(parseAuthority(bad)).toBeNull();
  });
});

describe('upstreams map', () => {
  const map = new UpstreamMap({ 'imgate.test': '127.0.0.1:15222', 'Web.Example.': '127.0.0.1:18080', 'web.example:8443': '[::1]:18443' });
  test('a mapped name goes to its upstream, case-insensitively', () => {
    expect(map.resolve({ host: 'imgate.test', type: 'domain' }, 5222)).toEqual({ host: '127.0.0.1', port: 15222, type: 'ipv4' });
    expect(map.resolve({ host: 'web.example', type: 'domain' }, 80)).toEqual({ host: '127.0.0.1', port: 18080, type: 'ipv4' });
  });
  test('"name:port" wins over "name" when the client gave that port', () => {
    expect(map.resolve({ host: 'web.example', port: 8443, type: 'domain' }, 443)).toEqual({ host: '::1', port: 18443, type: 'ipv6' });
    expect(map.resolve({ host: 'web.example', port: 9000, type: 'domain' }, 443)).toEqual({ host: '127.0.0.1', port: 18080, type: 'ipv4' });
  });
  test('an unmapped name is used as is, on the client port or the listener port', () => {
    expect(map.resolve({ host: 'other.test', type: 'domain' }, 5222)).toEqual({ host: 'other.test', port: 5222, type: 'domain' });
    expect(map.resolve({ host: 'other.test', port: 81, type: 'domain' }, 80)).toEqual({ host: 'other.test', port: 81, type: 'domain' });
  });
  test('fixed upstreams parse as host:port', () => {
    expect(parseHostPort('127.0.0.1:6667')).toEqual({ host: '127.0.0.1', port: 6667, type: 'ipv4' });
    expect(parseHostPort('irc.test')).toBeNull();
  });
});

describe('loop protection', () => {
  const own = [
    { address: '127.0.0.1', port: 1080 },
    { address: '0.0.0.0', port: 5222 },
    { address: '::', port: 443 },
  ];
  const local = () => new Set(['127.0.0.1', '192.0.2.7', '::1']);
  test('the gateway\'s own listener addresses are refused', () => {
    expect(isOwnAddress('127.0.0.1', 1080, own, local)).toBe(true);
    expect(isOwnAddress('::ffff:127.0.0.1', 1080, own, local)).toBe(true);
    expect(isOwnAddress('0.0.0.0', 1080, own, local)).toBe(true);
    // Wildcard listeners: any address of this host on that port.
    expect(isOwnAddress('127.0.0.5', 5222, own, local)).toBe(true);
    expect(isOwnAddress('192.0.2.7', 5222, own, local)).toBe(true);
    expect(isOwnAddress('::1', 443, own, local)).toBe(true);
  });
  test('other ports, other hosts and names are not loops', () => {
    expect(isOwnAddress('127.0.0.1', 1081, own, local)).toBe(false);
    expect(isOwnAddress('127.0.0.2', 1080, own, local)).toBe(false);
    expect(isOwnAddress('198.51.100.1', 5222, own, local)).toBe(false);
    expect(isOwnAddress('imgate.test', 5222, own, local)).toBe(false);
  });
});
