// OSCAR (AIM / ICQ): FLAP framing, SNAC login names, ICBM channel-1 text
// and channel-2 file-transfer rendezvous. See session.ts for the verdicts.
import type { DissectorSession, ProtocolModule, SessionContext, SessionOutput, Side, ProbeResult } from '../types';
import { probeOscar } from './probe';
import { OSCAR, OscarSession } from './session';

export const oscarModule: ProtocolModule = {
  name: OSCAR,
  probe: (from: Side, head: Buffer): ProbeResult => probeOscar(from, head),
  create: (ctx: SessionContext, out: SessionOutput): DissectorSession => new OscarSession(ctx, out),
};

export { OscarSession } from './session';
