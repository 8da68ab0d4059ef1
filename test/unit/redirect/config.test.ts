// The redirect: section of conf/imgate.yaml: defaults, validation messages.
import { ConfigError, parseConfig } from '../../../src/config';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, null);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test('empty by default: no listeners', () => {
  const c = parseConfig({}, null);
  expect(c.redirect).toEqual({ listeners: [], upstreams: {}, max_head_bytes: 16384, head_timeout_ms: 5000 });
});

test('a listener: protocol defaults to auto', () => {
  const c = parseConfig({ redirect: { listeners: [{ listen: { port: 5222 } }], upstreams: { 'imgate.test': '127.0.0.1:15222' } } }, null);
  expect(c.redirect.listeners).toEqual([{ listen: { host: '127.0.0.1', port: 5222 }, protocol: 'auto' }]);
});

test('irc, msnp, oscar, ymsg need an upstream; host:port values are checked', () => {
  expect(problems({ redirect: { listeners: [{ listen: { port: 6667 }, protocol: 'irc' }] } }).join('\n')).toMatch(/redirect\.listeners\[0\]\.upstream: expected an upstream: irc clients do not name their server/);
  expect(problems({ redirect: { upstreams: { a: 'nope' } } }).join('\n')).toMatch(/redirect\.upstreams\.a: expected "host:port"/);
  expect(problems({ redirect: { upstreams: { a: '1.2.3.4:70000' } } }).join('\n')).toMatch(/expected a port 0-65535/);
  expect(problems({ redirect: { listeners: [{ listen: { port: 1 }, protocol: 'smtp' }] } }).join('\n')).toMatch(/protocol: expected one of auto, xmpp/);
  expect(problems({ redirect: { listeners: [{ listen: { host: 'localhost', port: 1 } }] } }).join('\n')).toMatch(/expected an IP address literal/);
  expect(problems({ redirect: { listeners: [{ listen: {} }] } }).join('\n')).toMatch(/port/);
});
