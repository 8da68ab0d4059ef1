// What happens to a tunnel once a door hands it over (the policy allowed it
// before the dial: see decide.ts): the lifecycle (tracker, metrics, idle
// timeout, half-close, error tear-down) lives here; the data phase is a bare
// pipe in both directions, or the inspecting relay (src/inspect/) when one is
// given. Byte counts come from bytesRead/bytesWritten at close, never from
// per-chunk listeners.
import type { Socket } from 'node:net';
import type { DoorHooks, TunnelRequest } from '../../socks/types';
import type { AuditSink } from '../audit/types';
import type { Metrics } from '../admin/metrics';
import type { Logger } from '../log';
import { normalizeAddress } from '../util/cidr';
import { passthrough } from './passthrough';
import type { LiveTunnel, TunnelTracker } from './tunnels';

export interface RelayDeps {
  metrics: Metrics;
  logger: Logger;
  tracker: TunnelTracker;
  /** Read per tunnel so a reload applies to new tunnels. */
  idleTimeoutMs: () => number;
  /** Replaces the bare pipe (src/inspect/); it must end in pipeBoth or fail(). */
  dataPhase?: DataPhase;
}

/** What the data phase gets: both sockets (errors, close and idle are handled here). */
export interface TunnelHandle {
  readonly req: TunnelRequest;
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes the client sent with its request (HTTP CONNECT head); forwarded upstream first. */
  readonly head: Buffer;
  readonly clientIp: string;
  /** Tear the tunnel down; `why` is logged with the close. */
  fail(why: string): void;
}

/**
 * What a data phase offers the door hooks beside tunnels (src/inspect/ fills
 * it): the body inspector for forwarded requests and the record store sink,
 * so pre-dial decisions are recorded like IM events.
 */
export interface DataPhaseExtras {
  inspectForward?: DoorHooks['inspectForward'];
  audit?: AuditSink;
}

export type DataPhase = ((t: TunnelHandle) => void) & { extras?: DataPhaseExtras };

/**
 * The bare relay, both directions: a pipe, upgraded to a reused read buffer
 * once a direction carries bulk (passthrough.ts); no per-chunk JS of ours.
 */
export function pipeBoth(client: Socket, upstream: Socket, head: Buffer): void {
  if (head.length > 0) upstream.write(head);
  passthrough(client, upstream);
  passthrough(upstream, client);
}

export type OnTunnel = ((req: TunnelRequest, client: Socket, upstream: Socket, head: Buffer) => void) & { extras?: DataPhaseExtras };

/** Runs `fn` once when the socket closes, including when it closed before we got it. */
function watchClose(socket: Socket, fn: () => void): void {
  if (socket.closed) process.nextTick(fn);
  else socket.once('close', fn);
}

export function createRelay(deps: RelayDeps): OnTunnel {
  const { metrics, logger, tracker } = deps;

  const onTunnel: OnTunnel = function onTunnel(req, client, upstream, head) {
    const clientIp = normalizeAddress(req.client.address);
    const dest = `${req.destination.host}:${req.destination.port}`;
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ door: req.door, conn: req.id, client: clientIp, user: req.user, dest }, 'tunnel open');
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
        logger.info({ door, conn: req.id, client: clientIp, user: req.user, dest, up, down, ms: Date.now() - opened, reason: failure }, 'tunnel closed');
      } else if (logger.isLevelEnabled('debug')) {
        logger.debug({ door, conn: req.id, client: clientIp, user: req.user, dest, up, down, ms: Date.now() - opened }, 'tunnel closed');
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
    if (deps.dataPhase) deps.dataPhase({ req, client, upstream, head, clientIp, fail: teardown });
    else pipeBoth(client, upstream, head);
  };
  if (deps.dataPhase?.extras !== undefined) onTunnel.extras = deps.dataPhase.extras;
  return onTunnel;
}
