// Policy decisions for the proxy doors, taken before the upstream dial so a
// refusal is a real protocol answer (SOCKS 0x02, HTTP 403) rather than a
// tunnel that opens and then dies. Tunnels become 'connection' events;
// forwarded absolute-URI requests become 'http' events so url_matches rules
// apply to them exactly as they do to ICAP REQMOD.
import type { TunnelRequest } from '../../socks/types';
import type { Metrics } from '../admin/metrics';
import { newEventId } from '../events/id';
import type { ImEvent } from '../events/types';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import type { AuditSink } from '../audit/types';
import { normalizeAddress } from '../util/cidr';

export type ForwardRequest = TunnelRequest & { method: string; path: string };

function baseEvent(req: TunnelRequest, kind: 'connection' | 'http'): ImEvent {
  const ev: ImEvent = {
    id: newEventId(),
    time: Date.now(),
    conn: req.id,
    door: req.door,
    clientIp: normalizeAddress(req.client.address),
    groups: [],
    kind,
    host: req.destination.host.toLowerCase(),
    destination: { host: req.destination.host, port: req.destination.port },
  };
  if (req.user !== undefined) ev.user = req.user;
  return ev;
}

export function connectionEvent(req: TunnelRequest): ImEvent {
  return baseEvent(req, 'connection');
}

export function forwardEvent(req: ForwardRequest): ImEvent {
  const ev = baseEvent(req, 'http');
  const d = req.destination;
  const authority = d.type === 'ipv6' ? `[${d.host}]` : d.host;
  ev.protocol = 'http';
  ev.direction = 'out';
  ev.method = req.method;
  ev.url = `http://${authority}${d.port === 80 ? '' : `:${d.port}`}${req.path}`;
  return ev;
}

export interface DecideDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  /** The record store's queue: blocks and `log` verdicts are recorded (allowed tunnels and requests are not: see below). */
  audit?: AuditSink;
}

/**
 * A refusal by access.destinations (before any policy rule): recorded as a
 * blocked event whose rule names the config section, so `imgate search
 * --action block` shows every connection the gateway refused.
 */
export function recordAccessRefusal(deps: DecideDeps, ev: ImEvent): void {
  const verdict = { action: 'block' as const, rule: 'access.destinations' };
  ev.verdict = verdict;
  deps.audit?.record(ev, verdict, { stage: 'pre-dial' });
}

/** Evaluates one event; true when it may proceed. Logs blocks and 'log' rules. */
export function decide(deps: DecideDeps, ev: ImEvent): boolean {
  const verdict = deps.policy.evaluate(ev);
  ev.verdict = verdict;
  deps.metrics.policyVerdicts.inc({ action: verdict.action });
  // 'redact' has nothing to redact in an opaque tunnel or a request head; it
  // acts as allow until the IM dissectors look inside. Allowed tunnels and
  // forwarded requests are not recorded: a tunnel's record is what its
  // dissector decides (IM events, the TLS app, an unknown protocol's
  // fingerprint: one event per tunnel at most), and one row per allowed web
  // request would flood the store with browsing.
  if (verdict.action === 'allow' || verdict.action === 'redact') return true;
  const blocked = verdict.action === 'block';
  deps.audit?.record(ev, verdict, { stage: 'pre-dial' });
  deps.logger.info(
    {
      door: ev.door,
      conn: ev.conn,
      client: ev.clientIp,
      user: ev.user,
      kind: ev.kind,
      dest: ev.destination ? `${ev.destination.host}:${ev.destination.port}` : undefined,
      url: ev.url,
      rule: verdict.rule,
      event: ev.id,
    },
    blocked ? 'blocked by policy' : 'policy log',
  );
  return !blocked;
}
