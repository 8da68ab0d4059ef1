// IRC (RFC 1459/2812 + IRCv3 tags) dissector: login (NICK/USER/PASS, SASL
// PLAIN), PRIVMSG/NOTICE, CTCP, DCC SEND/CHAT offers, STARTTLS.
// Event kinds: login; message (text, CTCP ACTION with detail ctcp=ACTION,
// DCC CHAT offers with detail dcc=CHAT and no text); file (DCC SEND offers);
// unknown (other CTCPs and DCC types, with detail ctcp/dcc).
import type { ProtocolModule } from '../types';
import { expectedDccConnection } from './expected';
import { probeIrc } from './probe';
import { IrcSession } from './session';

export const ircModule: ProtocolModule = {
  name: 'irc',
  probe: probeIrc,
  create: (ctx, out) => new IrcSession(ctx, out),
  expectedConnection: expectedDccConnection,
};

export { IrcSession } from './session';
export { probeIrc } from './probe';
export { lookupDccOffer, dccOfferCount, clearDccOffers, normalizeDccHost, DCC_TABLE_MAX, DCC_TABLE_TTL_MS, type DccOffer } from './dcc-table';
export { parseLine, type IrcLine, type IrcParam } from './parse';
export { parseCtcp, parseDcc, decodeDccAddress, type DccOfferFields } from './ctcp';
