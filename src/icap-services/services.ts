// The REQMOD and RESPMOD services: build an 'http' event from the heads, ask
// the policy, answer allow (204 / streamed echo: the body is never read or
// buffered) or block (403 page). 'redact' acts as allow for now: redaction
// needs body inspection, which the issue "Web IM through ICAP" adds.
import type { AdaptMethod, IcapRequest, IcapService, IcapVerdict } from '../../icap/types';
import type { Metrics } from '../admin/metrics';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import { blockResponse } from './block-page';
import { httpEvent } from './http-event';

export interface IcapServiceDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
}

const ALLOW: IcapVerdict = Object.freeze({ kind: 'allow' });

function decide(deps: IcapServiceDeps, req: IcapRequest): IcapVerdict {
  const ev = httpEvent(req);
  const verdict = deps.policy.evaluate(ev);
  ev.verdict = verdict;
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
  return ALLOW;
}

function makeService(method: AdaptMethod, path: string, deps: IcapServiceDeps): IcapService {
  return {
    path,
    method,
    description: `imgate ${method}`,
    handle(req: IcapRequest): Promise<IcapVerdict> {
      try {
        return Promise.resolve(decide(deps, req));
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

export function createIcapServices(paths: { reqmod: string; respmod: string }, deps: IcapServiceDeps): IcapService[] {
  return [makeService('REQMOD', paths.reqmod, deps), makeService('RESPMOD', paths.respmod, deps)];
}
