// Markdown for the XMPP bench (scenarios/xmpp.ts): message rate and delivery
// latency direct to Prosody, through the bare Node pipe relay (one relay hop,
// no inspection) and through imgate, same clients, same run; targets from
// issue 4 (imgate >= 0.7x direct rate, p99 added <= 2 ms).
import type { XmppBenchResult, XmppSide } from '../scenarios/xmpp';

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

export function xmppTable(r: XmppBenchResult): string {
  const lines = [
    `XMPP <message> direct to ${r.prosody}, through the bare Node pipe relay (SOCKS5, no inspection) and through imgate's SOCKS5 door (inspecting); median of ${r.rounds} rounds of ${r.secs} s each.`,
    '',
    '| mode | body B | path | msg/s | / direct (imgate target >= 0.7x) | p50 / p99 us | p50 / p99 added us (imgate target p99 <= 2000) |',
    '|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    const lat = row.mode === 'latency';
    const mode = lat ? 'latency (1 in flight)' : 'rate (32 in flight)';
    const d = row.direct;
    const line = (name: string, x: XmppSide, isDirect: boolean): string =>
      `| ${mode} | ${row.bodyBytes} | ${name} | ${f0(x.rate)} | ${isDirect ? '-' : ratio(x.rate, d.rate)} | ${lat ? `${f0(x.p50_us)} / ${f0(x.p99_us)}` : '-'} | ${lat && !isDirect ? `${f0(x.p50_us - d.p50_us)} / ${f0(x.p99_us - d.p99_us)}` : '-'} |`;
    lines.push(line('direct', d, true));
    // Results saved before the pipe row existed have none.
    if (row.pipe !== undefined) lines.push(line('bare Node pipe relay', row.pipe, false));
    lines.push(line('imgate, inspection on', row.gateway, false));
  }
  return lines.join('\n');
}
