// YMSG (Yahoo! Messenger): 20-byte header, key/value payload; login,
// MESSAGE text and the file transfer services. See session.ts.
import type { DissectorSession, ProbeResult, ProtocolModule, SessionContext, SessionOutput, Side } from '../types';
import { probeYmsg } from './probe';
import { YMSG, YmsgSession } from './session';

export const ymsgModule: ProtocolModule = {
  name: YMSG,
  probe: (from: Side, head: Buffer): ProbeResult => probeYmsg(from, head),
  create: (ctx: SessionContext, out: SessionOutput): DissectorSession => new YmsgSession(ctx, out),
};

export { YmsgSession } from './session';
