// The inspecting relay: the data phase of src/relay that identifies each
// tunnel's protocol by its first bytes and drives the protocol's dissector.
import { pipeBoth, type DataPhase } from '../relay/relay';
import type { InspectSettings } from './settings';
import { InspectedTunnel, type InspectDeps } from './tunnel';

export { InspectedTunnel, type InspectDeps } from './tunnel';
export { inspectSettingsFromConfig, type InspectSettings } from './settings';
export { TunnelSessionContext, eventFromDraft, recordEvent, type ContextDeps, type TunnelFacts } from './context';
export { runProbes, fingerprint, type ProbeOutcome } from './probe';
export { decideExpected } from './expected';

export interface InspectorDeps extends InspectDeps {
  /** Read per tunnel so a reload applies to new tunnels. */
  settings: () => InspectSettings;
}

export function createInspector(deps: InspectorDeps): DataPhase {
  return (t) => {
    const settings = deps.settings();
    if (!settings.enabled) {
      pipeBoth(t.client, t.upstream, t.head);
      return;
    }
    const { req } = t;
    const facts = {
      conn: req.id,
      door: req.door,
      clientIp: t.clientIp,
      user: req.user,
      destination: { host: req.destination.host, port: req.destination.port },
    };
    new InspectedTunnel(deps, t, facts, settings).start();
  };
}
