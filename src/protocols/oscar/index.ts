// OSCAR (AIM / ICQ): FLAP framing, SNAC login names, ICBM channel-1 text
// and channel-2 file-transfer rendezvous. See session.ts for the verdicts.
// Rendezvous data connections (OFT2 file transfers) crossing the gateway:
// expected.ts + oft.ts.
import type { DissectorSession, ProtocolModule, SessionContext, SessionOutput, Side, ProbeResult } from '../types';
import { expectedOftConnection } from './expected';
import { probeOscar } from './probe';
import { OSCAR, OscarSession } from './session';

export const oscarModule: ProtocolModule = {
  name: OSCAR,
  probe: (from: Side, head: Buffer): ProbeResult => probeOscar(from, head),
  create: (ctx: SessionContext, out: SessionOutput): DissectorSession => new OscarSession(ctx, out),
  expectedConnection: expectedOftConnection,
};

export { OscarSession } from './session';
export { OftPayload, OFT_PROMPT, OFT_ACK, OFT_DONE, MAX_OFT_HEADER, MAX_PROXY_FRAME, OFT_PROXY_VERSION } from './oft';
export { RV_PROXY_PORTS } from './rendezvous-dial';
export { lookupRendezvous, clearRendezvous, rendezvousCount, RV_TABLE_MAX, RV_TABLE_TTL_MS, type RendezvousOffer } from './rendezvous-table';
