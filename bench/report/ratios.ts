// The headline ratios, computed once from medians so the markdown, the stdout
// table and the JSON agree.
import { ratio } from '../lib/stats';
import type { BenchResults } from './results';
import { xmppRows } from './xmpp-table';

export interface Headline { what: string; value: number; target: number | null }

function pick<T extends { target: { key: string } }>(rows: T[], key: string): T | undefined {
  return rows.find((r) => r.target.key === key);
}

export function headlines(r: BenchResults): Headline[] {
  const out: Headline[] = [];
  for (const row of r.icap) {
    const label = `ICAP RESPMOD ${sizeLabel(row.size)}${row.mode === '204' ? ' (Allow: 204)' : ''}: imgate / c-icap req/s`;
    out.push({ what: label, value: row.ratio, target: row.mode === '200' && row.size <= 65536 ? 1.0 : null });
  }
  const b = (k: string): number => pick(r.bulk, k)?.mbps ?? NaN;
  const c = (k: string): number => pick(r.conn, k)?.cps ?? NaN;
  if (r.bulk.length) {
    out.push({ what: 'SOCKS5 bulk: imgate / direct', value: ratio(b('imgate'), b('direct')), target: 0.8 });
    out.push({ what: 'SOCKS5 bulk: imgate / Dante', value: ratio(b('imgate'), b('dante')), target: 1.0 });
    out.push({ what: 'SOCKS5 bulk: bare Node pipe relay / direct (a naive Node relay)', value: ratio(b('pipe'), b('direct')), target: null });
    out.push({ what: 'SOCKS5 bulk: imgate / bare Node pipe relay', value: ratio(b('imgate'), b('pipe')), target: null });
    out.push({ what: 'SOCKS5 bulk: Dante / direct', value: ratio(b('dante'), b('direct')), target: null });
    out.push({ what: 'HTTP CONNECT bulk: imgate / direct', value: ratio(b('imgate-http'), b('direct')), target: null });
    out.push({ what: 'SOCKS5 bulk: imgate after ICAP load / second imgate without', value: ratio(b('imgate'), b('imgate-doors-only')), target: null });
    if (pick(r.bulk, 'haproxy-splice')) {
      // The best relay this machine runs, and imgate against it: what 0.8x of direct is measured against.
      out.push({ what: 'TCP bulk: HAProxy tcp forward with splice / direct (best reference relay)', value: ratio(b('haproxy-splice'), b('direct')), target: null });
      out.push({ what: 'TCP bulk: HAProxy tcp forward without splice / direct', value: ratio(b('haproxy'), b('direct')), target: null });
      out.push({ what: 'SOCKS5 bulk: imgate / HAProxy with splice', value: ratio(b('imgate'), b('haproxy-splice')), target: null });
    }
    const cpu = (k: string): number => pick(r.bulk, k)?.cpuMsPerGiB ?? NaN;
    if (Number.isFinite(cpu('imgate')) && Number.isFinite(cpu('pipe'))) {
      out.push({ what: 'Relay CPU per GiB (lower is better): imgate / bare Node pipe relay', value: ratio(cpu('imgate'), cpu('pipe')), target: null });
    }
  }
  const ip = (k: string): number => r.iperf?.find((x) => x.path.key === k)?.gbps ?? NaN;
  if (r.iperf?.length) {
    out.push({ what: 'iperf3 (128 KiB writes): imgate SOCKS5 / direct', value: ratio(ip('imgate'), ip('direct')), target: null });
    out.push({ what: 'iperf3: HAProxy with splice / direct (best reference relay)', value: ratio(ip('haproxy-splice'), ip('direct')), target: null });
    out.push({ what: 'iperf3: imgate SOCKS5 / HAProxy with splice', value: ratio(ip('imgate'), ip('haproxy-splice')), target: null });
  }
  if (r.conn.length) {
    out.push({ what: 'SOCKS5 conn/s: imgate / direct', value: ratio(c('imgate'), c('direct')), target: null });
    out.push({ what: 'SOCKS5 conn/s: imgate / Dante', value: ratio(c('imgate'), c('dante')), target: null });
    out.push({ what: 'SOCKS5 conn/s: imgate / bare Node pipe relay', value: ratio(c('imgate'), c('pipe')), target: null });
    if (pick(r.conn, 'haproxy')) out.push({ what: 'TCP conn/s: HAProxy tcp forward (no SOCKS exchange) / direct', value: ratio(c('haproxy'), c('direct')), target: null });
    out.push({ what: 'HTTP CONNECT conn/s: imgate / direct', value: ratio(c('imgate-http'), c('direct')), target: null });
  }
  for (const x of r.im?.im ?? []) {
    if (x.mode === 'latency') out.push({ what: `${x.protocol.toUpperCase()} closed-loop msg/s: imgate (inspecting) / direct`, value: ratio(x.gateway.rate, x.direct.rate), target: 0.7 });
    else out.push({ what: `${x.protocol.toUpperCase()} stream MB/s: imgate (inspecting) / direct`, value: ratio(x.gateway.MBps, x.direct.MBps), target: null });
  }
  const xmpp = r.im?.xmpp;
  if (xmpp !== undefined) {
    // Issue 4's XMPP targets. The added latency is shown as the 2 ms budget
    // over the measured p99 added (>= 1.0x: within the target), so it reads
    // like the other rows.
    const { rate, latency } = xmppRows(xmpp);
    // Per-round ratios (each round's imgate run over that round's direct run) damp load that comes and goes.
    if (rate) out.push({ what: `XMPP msg/s, ${xmpp.window ?? 32} in flight: imgate (inspecting) / direct, median of per-round ratios`, value: rate.gateway.vsDirectPerRound ?? ratio(rate.gateway.rate, rate.direct.rate), target: 0.7 });
    if (latency) {
      out.push({ what: 'XMPP msg/s, 1 in flight (closed loop): imgate (inspecting) / direct, median of per-round ratios', value: latency.gateway.vsDirectPerRound ?? ratio(latency.gateway.rate, latency.direct.rate), target: null });
      const added = latency.gateway.p99AddedPerRound_us ?? latency.gateway.p99_us - latency.direct.p99_us;
      out.push({ what: `XMPP p99 added latency: 2 ms target / measured (${Number.isFinite(added) ? added.toFixed(0) : 'n/a'} us)`, value: ratio(2000, Math.max(1, added)), target: 1.0 });
    }
  }
  for (const x of r.im?.webim ?? []) {
    const label = `Web IM REQMOD ${sizeLabel(x.size)}${x.mode === '204' ? ' (Allow: 204)' : ''}`;
    // Issue 5's target is the inspection path; recording every event is issue 6's cost, shown beside it.
    if (x.ratioNoStore !== undefined) out.push({ what: `${label}: imgate inspecting (store off) / c-icap echo req/s`, value: x.ratioNoStore, target: 0.8 });
    out.push({ what: `${label}: imgate inspecting + recording (shipped) / c-icap echo req/s`, value: x.ratio, target: x.ratioNoStore !== undefined ? null : 0.8 });
  }
  return out;
}

export function sizeLabel(n: number): string {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`;
}
