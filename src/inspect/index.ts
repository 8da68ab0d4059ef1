// The inspecting relay: the data phase of src/relay that identifies each
// tunnel's protocol by its first bytes and drives the protocol's dissector.
import { pipeBoth, type DataPhase } from '../relay/relay';
import type { InspectSettings } from './settings';
import { InspectedTunnel, type InspectDeps } from './tunnel';
import { createForwardInspector } from './forward';
import { expectedTunnels, startFileData } from './file-data';
import { FileTransfer, type FileDeps } from './file-transfer';

export { InspectedTunnel, type InspectDeps } from './tunnel';
export { inspectSettingsFromConfig, type InspectSettings } from './settings';
export { TunnelSessionContext, eventFromDraft, recordEvent, type ContextDeps, type TunnelFacts } from './context';
export { runProbes, fingerprint, type ProbeOutcome } from './probe';
export { decideExpected } from './expected';
export { createForwardInspector, type ForwardInspectorHook } from './forward';

export interface InspectorDeps extends InspectDeps {
  /** Files crossing tunnels (DCC data, XMPP IBB) are scanned by it when enabled (src/inspect/file-transfer.ts). */
  av?: FileDeps['av'];
  /** ...and archived through it when the record store keeps files. */
  archiveFile?: FileDeps['archiveFile'];
  /** Read per tunnel so a reload applies to new tunnels. */
  settings: () => InspectSettings;
}

export function createInspector(given: InspectorDeps): DataPhase {
  // Dissectors that reassemble files (XMPP IBB) reach AV and the archive through their context.
  const deps: InspectorDeps = { ...given, openFile: (facts, settings, draft) => new FileTransfer(given, facts, settings, draft) };
  const phase: DataPhase = (t) => {
    const settings = deps.settings();
    if (!settings.enabled) {
      pipeBoth(t.client, t.upstream, t.head);
      return;
    }
    const { req } = t;
    const expected = expectedTunnels.take(req.id);
    const facts = {
      conn: req.id,
      door: req.door,
      clientIp: t.clientIp,
      user: req.user,
      destination: { host: req.destination.host, port: req.destination.port },
    };
    if (expected !== undefined) startFileData(deps, t, facts, settings, expected);
    else new InspectedTunnel(deps, t, facts, settings).start();
  };
  // Offered to the door hooks (src/relay/hooks.ts): forwarded requests are
  // inspected, and pre-dial decisions recorded, by the same deps.
  phase.extras = { inspectForward: createForwardInspector(deps, deps.settings), ...(deps.audit !== undefined ? { audit: deps.audit } : {}) };
  return phase;
}
