// The DoorHooks both doors call: client allowlist, credentials, destination
// rules, dialing, refusal accounting, and the hand-over to the relay. Each
// call reads the current AccessSnapshot, so a reload applies to the next
// connection without touching live ones.
import type { Socket } from 'node:net';
import type { DoorHooks, PartialTunnelRequest, RefusedKind, TunnelRequest } from '../../socks/types';
import type { Metrics } from '../admin/metrics';
import type { Config } from '../config/load';
import { UserDb } from '../config/users';
import type { Logger } from '../log';
import { CidrList, normalizeAddress } from '../util/cidr';
import { dial } from './dial';
import { DestinationRules } from './destinations';
import type { OnTunnel } from './relay';
import type { PolicyStore } from '../policy/store';
import { connectionEvent, decide, forwardEvent, recordAccessRefusal, type ForwardRequest } from './decide';
import type { AuditSink } from '../audit/types';

export interface AccessSnapshot {
  clients: CidrList;
  users: UserDb;
  destinations: DestinationRules;
  connectTimeoutMs: number;
}

export function accessFromConfig(config: Config): AccessSnapshot {
  return {
    clients: new CidrList(config.access.clients),
    users: new UserDb(config.users),
    destinations: new DestinationRules(config.access.destinations, config.access.default_destination),
    connectTimeoutMs: config.tunnel.connect_timeout_ms,
  };
}

/** DoorHooks plus the onForward hook the HTTP door calls for absolute-URI requests. */
export type GatewayDoorHooks = DoorHooks & { onForward(req: ForwardRequest): boolean };

export interface HookDeps {
  access: () => AccessSnapshot;
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  onTunnel: OnTunnel;
  /**
   * Data connections a protocol announced earlier (IRC DCC, ...): true/false
   * decides the tunnel, undefined means none was expected.
   */
  expected?: (req: TunnelRequest) => boolean | undefined;
  /** Record store sink for pre-dial decisions; default: the data phase's (onTunnel.extras). */
  audit?: AuditSink;
  /** Body inspector for forwarded requests; default: the data phase's (onTunnel.extras). */
  inspectForward?: DoorHooks['inspectForward'];
}

export function createDoorHooks(hookDeps: HookDeps): GatewayDoorHooks {
  const extras = hookDeps.onTunnel.extras;
  const audit = hookDeps.audit ?? extras?.audit;
  const inspectForward = hookDeps.inspectForward ?? extras?.inspectForward;
  const deps: HookDeps = { ...hookDeps, ...(audit !== undefined ? { audit } : {}) };
  const { metrics, logger } = deps;
  const hooks: GatewayDoorHooks = {
    allowClient(address: string): boolean {
      return deps.access().clients.matches(address);
    },
    authenticate(user: string, password: string): boolean {
      return deps.access().users.verify(user, password);
    },
    allowDestination(req: TunnelRequest): boolean {
      if (!deps.access().destinations.allows(req.destination)) {
        // A forwarded request's method and path are not known here: its record is a connection event.
        recordAccessRefusal(deps, connectionEvent(req));
        return false;
      }
      // Forwarded requests are decided per request in onForward, with the URL.
      if (req.mode === 'forward') return true;
      return deps.expected?.(req) ?? decide(deps, connectionEvent(req));
    },
    dial(req: TunnelRequest): Promise<Socket> {
      return dial(req, deps.access().connectTimeoutMs);
    },
    onTunnel: deps.onTunnel,
    onRefused(req: PartialTunnelRequest, reason: RefusedKind, detail: string): void {
      metrics.refusalsTotal.inc({ door: req.door, reason });
      // The doors log refusals at info themselves; this line adds nothing new
      // unless someone is debugging.
      if (logger.isLevelEnabled('debug')) {
        const d = req.destination;
        logger.debug(
          {
            door: req.door,
            conn: req.id,
            client: req.client ? normalizeAddress(req.client.address) : undefined,
            user: req.user,
            dest: d ? `${d.host}:${d.port}` : undefined,
            reason,
            detail,
          },
          'refused',
        );
      }
    },
    onForward(req: ForwardRequest): boolean {
      metrics.forwardsTotal.inc({ door: req.door });
      if (logger.isLevelEnabled('debug')) {
        logger.debug(
          { door: req.door, conn: req.id, client: normalizeAddress(req.client.address), user: req.user, method: req.method, host: req.destination.host, path: req.path },
          'forward',
        );
      }
      return decide(deps, forwardEvent(req));
    },
  };
  if (inspectForward !== undefined) hooks.inspectForward = inspectForward;
  return hooks;
}
