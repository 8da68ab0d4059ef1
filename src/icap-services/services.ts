// The REQMOD and RESPMOD services: build an 'http' event from the heads, ask
// the policy, answer allow (204 / streamed echo: the body is never read or
// buffered) or block (403 page). Requests and responses that conf/webim.yaml
// recognises as web IM go on to src/web, which reads their bodies (bounded)
// and may also redact ('modify'); everything else is decided on the heads.
import type { AdaptMethod, IcapRequest, IcapService, IcapVerdict } from '../../icap/types';
import type { Metrics } from '../admin/metrics';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import type { WebImInspector } from '../web/inspect';
import type { WebImCatalog } from '../web/catalog';
import { blockResponse } from './block-page';
import { httpEvent, schemeEnd } from './http-event';

export interface IcapServiceDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  /** Web IM body inspection; absent = heads only. */
  webim?: { catalog: () => WebImCatalog; inspector: WebImInspector };
}

const ALLOW: IcapVerdict = Object.freeze({ kind: 'allow' });

/** "http://h/p?q" -> "/p?q" (the target as the catalogue matches it). */
export function pathAndQuery(url: string | undefined): string {
  if (url === undefined) return '/';
  // A scheme ("x+y.z-w:") followed by "//": the target starts after the authority.
  const end = schemeEnd(url);
  let rest = url;
  if (end > 0) {
    let i = end + 3;
    while (i < url.length) {
      const c = url.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
      i++;
    }
    rest = url.slice(i);
  }
  return rest === '' || rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest;
}

function decide(deps: IcapServiceDeps, req: IcapRequest): IcapVerdict | Promise<IcapVerdict> {
  const ev = httpEvent(req);
  // The verdict is not stored on the event: the web IM path builds its own
  // events from this one, and a \`delete\` later would make it a slow dictionary object.
  const verdict = deps.policy.evaluate(ev);
  deps.metrics.policyVerdicts.inc({ action: verdict.action });
  if (verdict.action === 'block') {
    const accept = req.httpRequest?.get('accept');
    const page = blockResponse({ rule: verdict.rule, reference: ev.id, url: ev.url }, accept);
    deps.logger.info(
      { conn: req.connectionId, icap: req.id, method: req.method, client: ev.clientIp, user: ev.user, url: ev.url, rule: verdict.rule, reference: ev.id },
      'blocked',
    );
    return { kind: 'block', response: page.head, body: page.body, reason: `rule ${verdict.rule}` };
  }
  if (verdict.action === 'log') {
    deps.logger.info(
      { conn: req.connectionId, icap: req.id, method: req.method, client: ev.clientIp, user: ev.user, url: ev.url, rule: verdict.rule, reference: ev.id },
      'logged',
    );
  } else if (deps.logger.isLevelEnabled('debug')) {
    deps.logger.debug({ conn: req.connectionId, icap: req.id, method: req.method, url: ev.url, rule: verdict.rule }, 'allowed');
  }
  const web = deps.webim;
  if (web !== undefined && req.hasBody && ev.method !== undefined) {
    const match = web.catalog().match(req.method === 'REQMOD' ? 'request' : 'response', ev.method, ev.host, pathAndQuery(ev.url));
    if (match !== undefined) return web.inspector.inspect(req, match, ev);
    // Not web IM: with AV on, every body that crosses is a file to scan (uploads and downloads).
    if (web.inspector.scansTransfers()) return web.inspector.transfer(req, ev);
  }
  return ALLOW;
}

function makeService(method: AdaptMethod, path: string, deps: IcapServiceDeps): IcapService {
  return {
    path,
    method,
    description: `imgate ${method}`,
    handle(req: IcapRequest): Promise<IcapVerdict> {
      try {
        const v = decide(deps, req);
        return v instanceof Promise ? v : Promise.resolve(v);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

export function createIcapServices(paths: { reqmod: string; respmod: string }, deps: IcapServiceDeps): IcapService[] {
  return [makeService('REQMOD', paths.reqmod, deps), makeService('RESPMOD', paths.respmod, deps)];
}
