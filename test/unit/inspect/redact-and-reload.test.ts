// Redaction of message texts by the matched rule, and the gateway loading
// (and reloading on SIGHUP's reload()) the TLS apps file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, parseYaml } from '../../../src/config';
import { startGateway } from '../../../src/gateway';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { tlsApps } from '../../../src/protocols/tls';

const policy = (yaml: string) => new PolicyStore(parsePolicy(parseYaml(yaml, null), null));

describe('redaction', () => {
  const store = policy(`
default: allow
rules:
  - { id: cards, when: { text_matches: ["\\\\b\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}[ -]?\\\\d{4}\\\\b", "(?i)secret"] }, then: redact }
  - { id: bob, when: { user: bob }, then: redact }
`);

  test('every match of every pattern of the matched rule becomes ****', () => {
    const v = { action: 'redact' as const, rule: 'cards' };
    expect(store.redact('pay 1234 5678 1234 5678 and 1111-2222-3333-4444, SECRET plan, secret too', v)).toBe('pay **** and ****, **** plan, **** too');
    expect(store.redact('nothing here', v)).toBe('nothing here');
    // Shared RegExp objects keep no state between calls.
    expect(store.redact('1234567812345678', v)).toBe('****');
    expect(store.redact('1234567812345678', v)).toBe('****');
  });

  test('a redact rule without text_matches, or one gone after a reload, masks the whole text', () => {
    expect(store.redact('anything at all', { action: 'redact', rule: 'bob' })).toBe('****');
    expect(store.redact('anything at all', { action: 'redact', rule: 'no-such-rule' })).toBe('****');
    expect(store.redact('', { action: 'redact', rule: 'bob' })).toBe('');
  });
});

describe('gateway: apps file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imgate-apps-gw-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('loaded at start (shipped default), replaced by apps.yaml beside the config on reload', async () => {
    const configFile = join(dir, 'imgate.yaml');
    writeFileSync(
      configFile,
      `data_dir: ${join(dir, 'var')}\nicap: { enabled: false }\nsocks5: { listen: { port: 0 } }\nhttp_proxy: { enabled: false }\nadmin: { enabled: false }\n`,
    );
    const gw = await startGateway(loadConfig(configFile), { logger: pino({ level: 'silent' }), defaultMetrics: false });
    try {
      expect(tlsApps().classify('web.whatsapp.com')).toBe('whatsapp');
      expect(tlsApps().classify('chat.example.test')).toBeUndefined();
      writeFileSync(join(dir, 'apps.yaml'), 'apps:\n  example-chat: [chat.example.test]\n');
      await gw.reload();
      expect(tlsApps().classify('chat.example.test')).toBe('example-chat');
      expect(tlsApps().classify('web.whatsapp.com')).toBeUndefined();
      // A broken file fails the reload and keeps the running catalog.
      writeFileSync(join(dir, 'apps.yaml'), 'apps:\n  Bad Name: [x]\n');
      await expect(gw.reload()).rejects.toThrow(/apps/);
      expect(tlsApps().classify('chat.example.test')).toBe('example-chat');
    } finally {
      await gw.drain(1000);
    }
  });
});
