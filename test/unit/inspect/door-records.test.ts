// Every decision of the doors reaches the record store, not only IM events:
// destination refusals, policy blocks and `log` rules on tunnels and on
// forwarded requests. Allowed tunnels and requests are not recorded (their
// dissector records what happens inside; browsing would flood the store).
import pino from 'pino';
import { Writable } from 'node:stream';
import { Metrics } from '../../../src/admin/metrics';
import type { AuditRecord, AuditSink } from '../../../src/audit/types';
import { parseConfig } from '../../../src/config';
import { createInspector, inspectSettingsFromConfig } from '../../../src/inspect';
import { parsePolicy, PolicyStore } from '../../../src/policy';
import { accessFromConfig, createDoorHooks, createRelay, TunnelTracker } from '../../../src/relay';
import type { TunnelRequest } from '../../../socks/types';

const logger = pino({ level: 'info' }, new Writable({ write: (_c, _e, cb) => cb() }));
const config = parseConfig({ access: { clients: ['127.0.0.0/8'], destinations: [{ action: 'deny', ports: [25] }], default_destination: 'allow' } }, null);
const policy = new PolicyStore(
  parsePolicy(
    {
      default: 'allow',
      rules: [
        { id: 'no-chat-host', when: { kind: 'connection', host: ['chat.banned.test'] }, then: 'block' },
        { id: 'no-upload-url', when: { kind: 'http', url_matches: ['/upload\\b'] }, then: 'block' },
        { id: 'watch', when: { host: ['watched.test'] }, then: 'log' },
      ],
    },
    null,
  ),
);
const metrics = new Metrics({ defaultMetrics: false });
const records: AuditRecord[] = [];
const audit: AuditSink = { record: (ev, verdict, detail) => records.push({ ev, verdict, detail }) };
const req = (host: string, port: number, over: Partial<TunnelRequest> = {}): TunnelRequest => ({
  id: 'c1', door: 'socks5', mode: 'connect', client: { address: '127.0.0.1', port: 1 }, destination: { host, port, type: 'domain' }, ...over,
});

describe('door decisions in the record store', () => {
  // Wired as src/gateway.ts does today: the audit sink reaches the hooks through the inspecting data phase.
  const settings = inspectSettingsFromConfig(config);
  const dataPhase = createInspector({ modules: [], policy, metrics, logger, audit, settings: () => settings });
  const onTunnel = createRelay({ metrics, logger, tracker: new TunnelTracker(), idleTimeoutMs: () => 1000, dataPhase });
  const hooks = createDoorHooks({ access: () => accessFromConfig(config), policy, metrics, logger, onTunnel });

  beforeEach(() => (records.length = 0));

  test('a destination refused by access rules is a recorded block (rule access.destinations)', () => {
    expect(hooks.allowDestination(req('mail.test', 25, { user: 'alice' }))).toBe(false);
    expect(records).toHaveLength(1);
    expect(records[0]?.verdict).toEqual({ action: 'block', rule: 'access.destinations' });
    expect(records[0]?.ev).toMatchObject({ kind: 'connection', user: 'alice', door: 'socks5', destination: { host: 'mail.test', port: 25 } });
  });

  test('policy blocks and log rules on tunnels are recorded; an allowed tunnel is not', () => {
    expect(hooks.allowDestination(req('chat.banned.test', 5222))).toBe(false);
    expect(hooks.allowDestination(req('watched.test', 5222))).toBe(true);
    expect(hooks.allowDestination(req('ok.test', 5222))).toBe(true);
    expect(records.map((r) => [r.ev.host, r.verdict.action, r.verdict.rule])).toEqual([
      ['chat.banned.test', 'block', 'no-chat-host'],
      ['watched.test', 'log', 'watch'],
    ]);
  });

  test('forwarded requests: a URL block is recorded with method and URL; an allowed one is not', () => {
    const fwd = (path: string) => ({ ...req('127.0.0.1', 8080, { door: 'http', mode: 'forward' }), method: 'POST', path });
    expect(hooks.onForward(fwd('/upload?x=1'))).toBe(false);
    expect(hooks.onForward(fwd('/other'))).toBe(true);
    expect(records).toHaveLength(1);
    expect(records[0]?.ev).toMatchObject({ kind: 'http', method: 'POST', url: 'http://127.0.0.1:8080/upload?x=1', door: 'http' });
    expect(records[0]?.verdict).toEqual({ action: 'block', rule: 'no-upload-url' });
  });

  test('the HTTP door gets the forwarded-request inspector: BOSH is held, other requests stream', () => {
    const fwd = (path: string) => ({ ...req('127.0.0.1', 5280, { door: 'http', mode: 'forward' }), method: 'POST', path });
    expect(hooks.inspectForward?.(fwd('/http-bind'), { 'content-type': 'text/xml' })?.holdRequest).toBe(true);
    expect(hooks.inspectForward?.(fwd('/upload.php'), { 'content-type': 'image/png' })).toBeUndefined();
  });
});
