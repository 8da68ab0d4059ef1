// Data connections announced by a protocol on another tunnel (an IRC DCC
// offer, ...) are decided before the dial, as the transfer they are: the
// policy sees a 'file' (or 'message') event with the offer's details, and an
// offer that was blocked stays blocked even if the peer connects directly.
import type { TunnelRequest } from '../../socks/types';
import type { Verdict } from '../events/types';
import type { ProtocolModule } from '../protocols/types';
import { normalizeAddress } from '../util/cidr';
import { eventFromDraft, recordEvent, type ContextDeps } from './context';
import { expectedTunnels } from './file-data';

/** Undefined when no protocol expected this destination; else whether it may proceed. */
export function decideExpected(deps: ContextDeps, modules: readonly ProtocolModule[], req: TunnelRequest, logTextMax: number): boolean | undefined {
  const { host, port } = req.destination;
  for (const m of modules) {
    const expected = m.expectedConnection?.(host, port);
    if (!expected) continue;
    const ev = eventFromDraft(
      { conn: req.id, door: req.door, clientIp: normalizeAddress(req.client.address), user: req.user, destination: { host, port } },
      expected.event,
    );
    const now = deps.policy.evaluate(ev);
    const verdict: Verdict = now.action !== 'block' && expected.offer.action === 'block' ? expected.offer : now;
    ev.verdict = verdict;
    recordEvent(deps, ev, verdict, expected.event.detail, logTextMax);
    const allowed = verdict.action !== 'block';
    // A file's data connection is hashed as it passes (file-data.ts).
    if (allowed && expected.event.kind === 'file') expectedTunnels.add(req.id, expected);
    return allowed;
  }
  return undefined;
}
