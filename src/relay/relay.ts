// What happens to a tunnel once a door hands it over: one policy decision on
// a 'connection' event, then a bare pipe in both directions. No per-chunk
// listeners: byte counts come from socket.bytesRead/bytesWritten at close.
// (IM dissectors replace the pipe for recognised protocols in a later issue.)
import type { Socket } from 'node:net';
import type { TunnelRequest } from '../../socks/types';
import type { Metrics } from '../admin/metrics';
import { newEventId } from '../events/id';
import type { ImEvent } from '../events/types';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import { normalizeAddress } from '../util/cidr';
import type { LiveTunnel, TunnelTracker } from './tunnels';

export interface RelayDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  tracker: TunnelTracker;
  /** Read per tunnel so a reload applies to new tunnels. */
  idleTimeoutMs: () => number;
}

export type OnTunnel = (req: TunnelRequest, client: Socket, upstream: Socket, head: Buffer) => void;

export function connectionEvent(req: TunnelRequest): ImEvent {
  const ev: ImEvent = {
    id: newEventId(),
    time: Date.now(),
    conn: req.id,
    door: req.door,
    clientIp: normalizeAddress(req.client.address),
    groups: [],
    kind: 'connection',
    host: req.destination.host,
    destination: { host: req.destination.host, port: req.destination.port },
  };
  if (req.user !== undefined) ev.user = req.user;
  return ev;
}

/** Runs `fn` once when the socket closes, including when it closed before we got it. */
function watchClose(socket: Socket, fn: () => void): void {
  if (socket.closed) process.nextTick(fn);
  else socket.once('close', fn);
}

export function createRelay(deps: RelayDeps): OnTunnel {
  const { policy, metrics, logger, tracker } = deps;

  return function onTunnel(req, client, upstream, head) {
    const ev = connectionEvent(req);
    const verdict = policy.evaluate(ev);
    ev.verdict = verdict;
    metrics.policyVerdicts.inc({ action: verdict.action });
    const dest = `${req.destination.host}:${req.destination.port}`;
    if (verdict.action === 'block') {
      client.destroy();
      upstream.destroy();
      metrics.refusalsTotal.inc({ door: req.door, reason: 'policy' });
      logger.info(
        { door: req.door, conn: req.id, client: ev.clientIp, user: req.user, dest, rule: verdict.rule, event: ev.id },
        'tunnel blocked by policy',
      );
      return;
    }
    // 'redact' has nothing to redact in an opaque tunnel; it acts as allow.
    if (verdict.action === 'log') {
      logger.info({ door: req.door, conn: req.id, client: ev.clientIp, user: req.user, dest, rule: verdict.rule, event: ev.id }, 'tunnel');
    } else if (logger.isLevelEnabled('debug')) {
      logger.debug({ door: req.door, conn: req.id, client: ev.clientIp, user: req.user, dest }, 'tunnel open');
    }

    const door = req.door;
    const t: LiveTunnel = { id: req.id, client, upstream };
    tracker.add(t);
    metrics.connectionsTotal.inc({ door });
    metrics.connectionsActive.inc({ door });
    // The door already wrote its success reply to the client; count only what
    // flows from here on.
    const downBase = client.bytesWritten;
    const opened = Date.now();
    let closedSides = 0;
    let failure: string | undefined;

    const teardown = (why: string): void => {
      if (failure === undefined) failure = why;
      client.destroy();
      upstream.destroy();
    };
    const onClientError = (err: Error): void => teardown(`client: ${err.message}`);
    const onUpstreamError = (err: Error): void => teardown(`upstream: ${err.message}`);
    const onIdle = (): void => teardown('idle timeout');
    const onSideClose = (other: Socket) => (): void => {
      // This side is fully closed: nothing more can be delivered to it, so
      // finish the other side gracefully (its queued writes still flush).
      if (!other.destroyed) other.end();
      if (++closedSides < 2) return;
      tracker.delete(t);
      metrics.connectionsActive.dec({ door });
      const up = upstream.bytesWritten;
      const down = client.bytesWritten - downBase;
      metrics.bytesTotal.inc({ door, direction: 'up' }, up);
      metrics.bytesTotal.inc({ door, direction: 'down' }, down);
      if (failure !== undefined) {
        logger.info({ door, conn: req.id, client: ev.clientIp, user: req.user, dest, up, down, ms: Date.now() - opened, reason: failure }, 'tunnel closed');
      } else if (logger.isLevelEnabled('debug')) {
        logger.debug({ door, conn: req.id, client: ev.clientIp, user: req.user, dest, up, down, ms: Date.now() - opened }, 'tunnel closed');
      }
    };

    client.on('error', onClientError);
    upstream.on('error', onUpstreamError);
    watchClose(client, onSideClose(upstream));
    watchClose(upstream, onSideClose(client));
    const idle = deps.idleTimeoutMs();
    client.setTimeout(idle, onIdle);
    upstream.setTimeout(idle, onIdle);
    if (client.destroyed || upstream.destroyed) {
      teardown('closed before relay');
      return;
    }
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  };
}
