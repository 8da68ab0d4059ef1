// Prometheus metrics. One registry per gateway (not the prom-client global),
// so tests can run several gateways in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ACTIONS, EVENT_KINDS } from '../events/types';

/** Index of each event kind and action in one protocol's row of per-event tallies. */
const KIND_INDEX = new Map<string, number>(EVENT_KINDS.map((k, i) => [k, i]));
const ACTION_INDEX = new Map<string, number>(ACTIONS.map((a, i) => [a, i]));

/** IM events counted since the last scrape, per protocol: [kind * ACTIONS.length + action]. */
interface EventTally {
  protocol: string;
  n: Float64Array;
}

export class Metrics {
  readonly registry = new Registry();
  readonly connectionsTotal: Counter<'door'>;
  readonly connectionsActive: Gauge<'door'>;
  readonly bytesTotal: Counter<'door' | 'direction'>;
  readonly refusalsTotal: Counter<'door' | 'reason'>;
  readonly forwardsTotal: Counter<'door'>;
  readonly icapRequestsTotal: Counter<'method' | 'status'>;
  readonly icapDuration: Histogram<'method'>;
  readonly policyVerdicts: Counter<'action'>;
  readonly imEventsTotal: Counter<'protocol' | 'kind' | 'action'>;
  readonly tunnelsByProtocol: Counter<'protocol'>;
  readonly avScansTotal: Counter<'scanner' | 'status'>;
  readonly avScanDuration: Histogram<'scanner'>;
  readonly avBreakerState: Gauge<'scanner'>;
  readonly avCacheHits: Counter<'scanner'>;
  readonly auditWritten: Counter;
  readonly auditDropped: Counter;
  readonly auditFailed: Counter;
  readonly auditQueueDepth: Gauge;
  /** Per protocol: IM events counted since the last scrape (see countImEvent). */
  private readonly tallies = new Map<string, EventTally>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.connectionsTotal = new Counter({
      name: 'imgate_connections_total',
      help: 'Connections accepted (icap) or tunnels opened (socks5, http), by door.',
      labelNames: ['door'],
      registers,
    });
    this.connectionsActive = new Gauge({
      name: 'imgate_connections_active',
      help: 'Open ICAP connections and live tunnels, by door.',
      labelNames: ['door'],
      registers,
    });
    this.bytesTotal = new Counter({
      name: 'imgate_bytes_total',
      help: 'Tunnel payload bytes at tunnel close; direction up = client to server, down = server to client.',
      labelNames: ['door', 'direction'],
      registers,
    });
    this.refusalsTotal = new Counter({
      name: 'imgate_refusals_total',
      help: 'Refused or failed door requests, by door and reason.',
      labelNames: ['door', 'reason'],
      registers,
    });
    this.forwardsTotal = new Counter({
      name: 'imgate_forward_requests_total',
      help: 'Absolute-URI requests forwarded by the HTTP proxy door.',
      labelNames: ['door'],
      registers,
    });
    this.icapRequestsTotal = new Counter({
      name: 'imgate_icap_requests_total',
      help: 'ICAP transactions, by ICAP method and status code.',
      labelNames: ['method', 'status'],
      registers,
    });
    this.icapDuration = new Histogram({
      name: 'imgate_icap_request_duration_seconds',
      help: 'ICAP transaction duration.',
      labelNames: ['method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    // Both counters are fed per IM event from plain tallies at scrape time
    // (collect), besides their direct inc() callers.
    const flush = (): void => this.flushTallies();
    this.policyVerdicts = new Counter({
      name: 'imgate_policy_verdicts_total',
      help: 'Policy decisions, by action.',
      labelNames: ['action'],
      registers,
      collect: flush,
    });
    this.imEventsTotal = new Counter({
      name: 'imgate_im_events_total',
      help: 'IM events seen inside inspected tunnels, by protocol, event kind and policy action.',
      labelNames: ['protocol', 'kind', 'action'],
      registers,
      collect: flush,
    });
    this.tunnelsByProtocol = new Counter({
      name: 'imgate_tunnels_by_protocol_total',
      help: 'Inspected tunnels by the protocol their first bytes were recognised as ("unknown" when none matched).',
      labelNames: ['protocol'],
      registers,
    });
    this.avScansTotal = new Counter({
      name: 'imgate_av_scans_total',
      help: 'AV scans by scanner and status (clean, infected, error, timeout, breaker_open, over_limit); cache hits are not scans.',
      labelNames: ['scanner', 'status'],
      registers,
    });
    this.avScanDuration = new Histogram({
      name: 'imgate_av_scan_duration_seconds',
      help: 'Duration of one AV scan by one scanner (cache hits excluded).',
      labelNames: ['scanner'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.avBreakerState = new Gauge({
      name: 'imgate_av_breaker_state',
      help: 'Circuit breaker of each AV scanner: 0 closed, 1 half-open, 2 open.',
      labelNames: ['scanner'],
      registers,
    });
    this.avCacheHits = new Counter({
      name: 'imgate_av_cache_hits_total',
      help: 'AV verdicts served from the verdict cache (sha256 + scanner + signature version).',
      labelNames: ['scanner'],
      registers,
    });
    this.auditWritten = new Counter({ name: 'imgate_audit_written_total', help: 'IM events written to the record store.', registers });
    this.auditDropped = new Counter({
      name: 'imgate_audit_dropped_total',
      help: 'IM events not recorded: the audit queue was full (or closed), or a batch failed repeatedly.',
      registers,
    });
    this.auditFailed = new Counter({ name: 'imgate_audit_write_failures_total', help: 'Failed record store batch writes (retried).', registers });
    this.auditQueueDepth = new Gauge({ name: 'imgate_audit_queue_depth', help: 'IM events waiting in the audit queue.', registers });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Counts one decided IM event in imgate_policy_verdicts_total and
   * imgate_im_events_total. This runs per message on the relay's path, where
   * prom-client's inc() (it hashes the label set on every call, even on a
   * label child) was 7% of the main thread in an XMPP rate profile: events
   * are tallied in a typed array per protocol and handed to the counters when
   * they are read (flushTallies). Bounded: protocols come from the registry,
   * kinds and actions are enums.
   */
  countImEvent(protocol: string, kind: string, action: string): void {
    let t = this.tallies.get(protocol);
    if (t === undefined) {
      t = { protocol, n: new Float64Array(EVENT_KINDS.length * ACTIONS.length) };
      this.tallies.set(protocol, t);
    }
    const k = KIND_INDEX.get(kind);
    const a = ACTION_INDEX.get(action);
    if (k === undefined || a === undefined) {
      // Not an enum value (a caller bug): count it the slow way rather than lose it.
      this.policyVerdicts.inc({ action });
      this.imEventsTotal.inc({ protocol, kind, action });
      return;
    }
    (t.n[k * ACTIONS.length + a] as number)++;
  }

  /** Moves the tallies into the two counters (prom-client calls this before each read of either). */
  private flushTallies(): void {
    for (const t of this.tallies.values()) {
      const n = t.n;
      for (let i = 0; i < n.length; i++) {
        const v = n[i] as number;
        if (v === 0) continue;
        n[i] = 0;
        const kind = EVENT_KINDS[Math.floor(i / ACTIONS.length)] as string;
        const action = ACTIONS[i % ACTIONS.length] as string;
        this.policyVerdicts.inc({ action }, v);
        this.imEventsTotal.inc({ protocol: t.protocol, kind, action }, v);
      }
    }
  }
}
