// Markdown for the XMPP bench (scenarios/xmpp.ts): message rate and delivery
// latency through imgate against the same clients connected directly to
// Prosody in the same run; targets from issue 4 (>= 0.7x rate, p99 added <= 2 ms).
import type { XmppBenchResult } from '../scenarios/xmpp';

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

export function xmppTable(r: XmppBenchResult): string {
  const lines = [
    `XMPP <message> through imgate's SOCKS5 door (inspecting) vs direct to ${r.prosody}; median of ${r.rounds} rounds of ${r.secs} s each.`,
    '',
    '| mode | body B | direct msg/s | imgate msg/s | ratio (target >= 0.7x) | direct p50 / p99 us | imgate p50 / p99 us | p99 added (target <= 2000 us) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    const d = row.direct;
    const g = row.gateway;
    const lat = row.mode === 'latency';
    lines.push(
      `| ${lat ? 'latency (1 in flight)' : 'rate (32 in flight)'} | ${row.bodyBytes} | ${f0(d.rate)} | ${f0(g.rate)} | ${ratio(g.rate, d.rate)} | ${lat ? `${f0(d.p50_us)} / ${f0(d.p99_us)}` : '-'} | ${lat ? `${f0(g.p50_us)} / ${f0(g.p99_us)}` : '-'} | ${lat ? f0(g.p99_us - d.p99_us) : '-'} |`,
    );
  }
  return lines.join('\n');
}
