// IM event counters as /metrics shows them: countImEvent tallies per event
// and the counters take the tallies when read, so every scrape must show
// the running totals, also after earlier scrapes and mixed with direct inc()s.
import { Metrics } from '../../../src/admin/metrics';
import { TunnelSessionContext } from '../../../src/inspect/context';
import type { InspectSettings } from '../../../src/inspect/settings';
import { createLogger } from '../../../src/log';
import { PolicyStore, parsePolicy } from '../../../src/policy';

const settings: InspectSettings = {
  enabled: true,
  probeMaxBytes: 4096,
  probeTimeoutMs: 1000,
  logTextMax: 100,
  options: { starttls: 'pass', maxUnitBytes: 65536 } as InspectSettings['options'],
};

function context(metrics: Metrics): TunnelSessionContext {
  const policy = new PolicyStore(parsePolicy({ default: 'allow', rules: [{ id: 'no-falcon', when: { kind: 'message', text_matches: ['falcon'] }, then: 'block' }] }, null));
  const facts = { conn: 'c1', door: 'socks5' as const, clientIp: '127.0.0.1', user: undefined, destination: { host: '127.0.0.1', port: 5222 } };
  return new TunnelSessionContext({ policy, metrics, logger: createLogger('silent') }, facts, settings, 'xmpp');
}

function value(text: string, line: string): number {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  return m === undefined ? 0 : Number(m.slice(line.length + 1));
}

describe('IM event counters', () => {
  it('show running totals per protocol, kind and action on every scrape', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const ctx = context(metrics);
    for (const text of ['hi', 'about falcon', 'bye']) ctx.decide({ kind: 'message', side: 'c2s', protocol: 'xmpp', text });
    ctx.decide({ kind: 'presence', side: 's2c', protocol: 'xmpp' });
    let text = await metrics.registry.metrics();
    expect(value(text, 'imgate_im_events_total{protocol="xmpp",kind="message",action="allow"}')).toBe(2);
    expect(value(text, 'imgate_im_events_total{protocol="xmpp",kind="message",action="block"}')).toBe(1);
    expect(value(text, 'imgate_im_events_total{protocol="xmpp",kind="presence",action="allow"}')).toBe(1);
    expect(value(text, 'imgate_policy_verdicts_total{action="allow"}')).toBe(3);
    expect(value(text, 'imgate_policy_verdicts_total{action="block"}')).toBe(1);

    // A direct inc() (the door's pre-dial decision) and more events, then a second scrape.
    metrics.policyVerdicts.inc({ action: 'block' });
    ctx.decide({ kind: 'message', side: 'c2s', protocol: 'irc', text: 'falcon' });
    ctx.decide({ kind: 'message', side: 'c2s', protocol: 'xmpp', text: 'again' });
    text = await metrics.registry.metrics();
    expect(value(text, 'imgate_im_events_total{protocol="xmpp",kind="message",action="allow"}')).toBe(3);
    expect(value(text, 'imgate_im_events_total{protocol="irc",kind="message",action="block"}')).toBe(1);
    expect(value(text, 'imgate_policy_verdicts_total{action="allow"}')).toBe(4);
    expect(value(text, 'imgate_policy_verdicts_total{action="block"}')).toBe(3);

    // Reading one counter alone also brings the tallies in.
    ctx.decide({ kind: 'presence', side: 's2c', protocol: 'xmpp' });
    const one = await metrics.imEventsTotal.get();
    const presence = one.values.find((v) => v.labels.kind === 'presence' && v.labels.protocol === 'xmpp');
    expect(presence?.value).toBe(2);
  });

  it('still counts a kind or action outside the enums', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.countImEvent('xmpp', 'odd', 'allow');
    const text = await metrics.registry.metrics();
    expect(value(text, 'imgate_im_events_total{protocol="xmpp",kind="odd",action="allow"}')).toBe(1);
  });
});
