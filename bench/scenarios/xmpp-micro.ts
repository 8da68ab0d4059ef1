// CPU cost of the XMPP dissector alone per <message> stanza (no sockets, no
// policy engine: decide() answers allow), so changes to the hot path can be
// compared without the machine's scheduling noise:
//   npx tsc -p tsconfig.json && node dist/bench/scenarios/xmpp-micro.js [n]
import type { Verdict } from '../../src/events/types';
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

if (require.main === module) {
  const n = Number(process.argv[2] ?? 200000);
  const r = [0, 1, 2, 3, 4].map(() => dissectorNsPerStanza(n));
  console.log(JSON.stringify({ nsPerStanza: r.map((x) => Math.round(x)), min: Math.round(Math.min(...r)) }));
}
