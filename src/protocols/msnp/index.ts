// MSNP (MSN / Windows Live Messenger, MSNP8 to MSNP18) dissector:
// notification server and switchboard connections.
// Event kinds: login (NS `USR trid TWN|SSO I passport`, switchboard
// `USR trid passport cookie` / `ANS trid passport cookie sessid`); message
// (switchboard MSG text/plain, peer = participant for outbound, sender for
// inbound); file (MSNSLP INVITE with the file transfer EUF-GUID, name and
// size from its Context).
import type { ProtocolModule } from '../types';
import { probeMsnp } from './probe';
import { MsnpSession } from './session';

export const msnpModule: ProtocolModule = {
  name: 'msnp',
  probe: probeMsnp,
  create: (ctx, out) => new MsnpSession(ctx, out),
};

export { MsnpSession, PROTOCOL } from './session';
export { probeMsnp } from './probe';
export { MsnpFramer, MSNP_MAX_LINE } from './framer';
export { parseLine, type MsnLine, type Param } from './command';
export { parseP2pHeader, buildP2pHeader, parseSlpInvite, decodeFileContext, buildDecline, FILE_TRANSFER_EUF_GUID, P2P_HEADER_BYTES, type P2pHeader, type SlpInvite } from './p2p';
export { MsnGatewayInspector, parseGatewayUrl, MSN_GATEWAY_CONTENT_TYPE, type GatewayResult, type GatewayUrl } from './gateway';
