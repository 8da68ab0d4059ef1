// CPU cost of the XMPP dissector alone per <message> stanza (no sockets, no
// policy engine: decide() answers allow), so changes to the hot path can be
// compared without the machine's scheduling noise:
//   npx tsc -p tsconfig.json && node dist/bench/scenarios/xmpp-micro.js [n] [full]
// `full`: the gateway's own per-event path instead of a stub decide(): the
// tunnel's SessionContext (event building, policy engine with the default
// allow policy, metrics, the 'im event' log check) and an audit sink that
// only keeps the records (the record store's hand-off is src/audit's), with
// ten stanzas per pushed chunk as the rate bench's reads carry.
import type { AuditSink } from '../../src/audit/types';
import { Metrics } from '../../src/admin/metrics';
import type { ImEvent, Verdict } from '../../src/events/types';
import { TunnelSessionContext } from '../../src/inspect/context';
import type { InspectSettings } from '../../src/inspect/settings';
import { createLogger } from '../../src/log';
import { DEFAULT_POLICY_DOC, PolicyStore, parsePolicy } from '../../src/policy';
import type { SessionContext, Side } from '../../src/protocols/types';
import { xmppModule } from '../../src/protocols/xmpp';

const ALLOW: Verdict = { action: 'allow', rule: 'default' };
const nop = (): void => undefined;

export function dissectorNsPerStanza(n: number, bodyBytes = 100): number {
  let forwarded = 0;
  const ctx: SessionContext = {
    conn: 'b1',
    destination: { host: '127.0.0.1', port: 5222 },
    options: { starttls: 'pass', maxUnitBytes: 262144 } as SessionContext['options'],
    decide: () => ALLOW,
    redact: (t) => t,
    log: { debug: nop, info: nop, warn: nop, error: nop },
  };
  const s = xmppModule.create(ctx, {
    forward: (_f: Side, d: Buffer) => { forwarded += d.length; },
    inject: nop,
    close: nop,
  });
  const open = `<?xml version='1.0'?><stream:stream to='bench.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
  s.push('c2s', Buffer.from(open));
  const pad = 'x'.repeat(Math.max(0, bodyBytes - 8));
  const chunks = Array.from({ length: 1024 }, (_, i) => Buffer.from(`<message to='rx@bench.test/r1' type='chat' id='m${i}'><body>${i} ${pad}</body></message>`));
  for (let i = 0; i < 20000; i++) s.push('c2s', chunks[i & 1023]!); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) s.push('c2s', chunks[i & 1023]!);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (forwarded === 0) throw new Error('nothing forwarded');
  return ns;
}

/** ns per <message> through the dissector and the gateway's real decide path (see `full` above). */
export function fullNsPerStanza(n: number, bodyBytes = 100, perChunk = 10): number {
  let forwarded = 0;
  const kept: ImEvent[] = [];
  const audit: AuditSink = {
    record: (ev) => {
      kept.push(ev);
      if (kept.length >= 4096) kept.length = 0;
    },
  };
  const settings: InspectSettings = {
    enabled: true,
    probeMaxBytes: 4096,
    probeTimeoutMs: 3000,
    logTextMax: 256,
    options: { starttls: 'pass', maxUnitBytes: 262144 } as InspectSettings['options'],
  };
  const deps = { policy: new PolicyStore(parsePolicy(DEFAULT_POLICY_DOC, null)), metrics: new Metrics({ defaultMetrics: false }), logger: createLogger('warn'), audit };
  const facts = { conn: 's1', door: 'socks5' as const, clientIp: '127.0.0.1', user: undefined, destination: { host: '127.0.0.1', port: 5222 } };
  const ctx = new TunnelSessionContext(deps, facts, settings, 'xmpp');
  const s = xmppModule.create(ctx, {
    forward: (_f: Side, d: Buffer) => { forwarded += d.length; },
    inject: nop,
    close: nop,
  });
  const open = `<?xml version='1.0'?><stream:stream to='bench.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
  s.push('c2s', Buffer.from(open));
  const pad = 'x'.repeat(Math.max(0, bodyBytes - 8));
  const one = (i: number): string => `<message to='rx@bench.test/r1' type='chat' id='m${i}'><body>${i} ${pad}</body></message>`;
  const chunks = Array.from({ length: 256 }, (_, c) => Buffer.from(Array.from({ length: perChunk }, (_, k) => one(c * perChunk + k)).join('')));
  for (let i = 0; i < 4000; i++) s.push('c2s', chunks[i & 255]!); // warm-up
  const pushes = Math.ceil(n / perChunk);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pushes; i++) s.push('c2s', chunks[i & 255]!);
  const ns = Number(process.hrtime.bigint() - t0) / (pushes * perChunk);
  if (forwarded === 0) throw new Error('nothing forwarded');
  return ns;
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 200000);
  const f = process.argv[3] === 'full' ? fullNsPerStanza : dissectorNsPerStanza;
  const r = [0, 1, 2, 3, 4].map(() => f(n));
  console.log(JSON.stringify({ nsPerStanza: r.map((x) => Math.round(x)), min: Math.round(Math.min(...r)) }));
}
