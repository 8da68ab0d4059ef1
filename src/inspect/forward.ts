// IM over port 80 that arrives as absolute-URI requests on the HTTP proxy
// door (Squid cache_peer parent): the door asks, per forwarded request, for
// a body inspector (socks/types.ts ForwardBodyInspector); BOSH and MSN
// gateway exchanges get one that runs the same XMPP/MSNP logic as a tunnel
// (src/protocols/http/forwarded.ts), anything else streams untouched.
import type { ForwardBodyInspector, ForwardedRequest, ReadonlyHeaders } from '../../socks/types';
import { ForwardedIm } from '../protocols/http/forwarded';
import type { SessionLogger } from '../protocols/types';
import { normalizeAddress } from '../util/cidr';
import { TunnelSessionContext, type ContextDeps, type TunnelFacts } from './context';
import type { InspectSettings } from './settings';

/** A SessionContext whose tunnel facts are those of the request being inspected right now. */
class ForwardContext extends TunnelSessionContext {
  override readonly log: SessionLogger;

  constructor(deps: ContextDeps, settings: InspectSettings) {
    super(deps, { conn: '', door: 'http', clientIp: '', user: undefined, destination: { host: '', port: 0 } }, settings, 'http');
    // The base class's logger is bound to one tunnel's facts; this one reads
    // the current request's at each call.
    const fields = (o: object): object => ({ door: 'http', conn: this.facts.conn, client: this.facts.clientIp, user: this.facts.user, ...o });
    this.log = {
      debug: (o, m) => {
        if (deps.logger.isLevelEnabled('debug')) deps.logger.debug(fields(o), m);
      },
      info: (o, m) => deps.logger.info(fields(o), m),
      warn: (o, m) => deps.logger.warn(fields(o), m),
      error: (o, m) => deps.logger.error(fields(o), m),
    };
  }

  /** Points the shared context at one request (each call runs synchronously for it). */
  at(facts: TunnelFacts, settings: InspectSettings): void {
    this.facts = facts;
    this.settings = settings;
  }
}

export type ForwardInspectorHook = (req: ForwardedRequest, headers: ReadonlyHeaders) => ForwardBodyInspector | undefined;

/** The DoorHooks.inspectForward the gateway hands the HTTP door. */
export function createForwardInspector(deps: ContextDeps, settings: () => InspectSettings): ForwardInspectorHook {
  const ctx = new ForwardContext(deps, settings());
  const im = new ForwardedIm(ctx);
  return (req, headers) => {
    const s = settings();
    if (!s.enabled) return undefined;
    const facts: TunnelFacts = {
      conn: req.id,
      door: req.door,
      clientIp: normalizeAddress(req.client.address),
      user: req.user,
      destination: { host: req.destination.host, port: req.destination.port },
    };
    // Each call below runs synchronously for this request: point the shared
    // context at it first.
    const at = (): void => ctx.at(facts, s);
    at();
    const ex = im.exchange(req.method, req.path, headers);
    if (ex === undefined) return undefined;
    const maxBodyBytes = Math.max(1024, s.options.maxUnitBytes);
    return {
      maxBodyBytes,
      holdRequest: ex.holdRequest,
      request(body) {
        at();
        return ex.request(body);
      },
      holdResponse(status, h) {
        at();
        return ex.holdResponse(status, h);
      },
      response(body) {
        at();
        return ex.response(body);
      },
    };
  };
}
