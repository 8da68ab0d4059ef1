// Turns a recorded DCC offer into the description of the data connection the
// relay is about to open, so the policy decides the transfer itself (kind
// 'file' for SEND, 'message' for CHAT, as the offer was) and an offer that
// was blocked cannot be fetched by connecting to it directly.
import type { EventDraft, ExpectedConnection, Side } from '../types';
import { lookupDccOffer } from './dcc-table';

export function expectedDccConnection(host: string, port: number): ExpectedConnection | undefined {
  const offer = lookupDccOffer(host, port);
  if (!offer) return undefined;
  // The data flows from the offerer; the connecting side is the other party.
  const side: Side = offer.side === 'c2s' ? 's2c' : 'c2s';
  const event: EventDraft = {
    kind: offer.type === 'SEND' ? 'file' : 'message',
    side,
    protocol: 'irc',
    detail: { dcc: offer.type, offerConn: offer.conn, data: true },
  };
  if (offer.account !== undefined) event.account = offer.account;
  if (offer.peer !== undefined) event.peer = offer.peer;
  if (offer.type === 'SEND') {
    event.file = {};
    if (offer.file !== undefined) event.file.name = offer.file;
    if (offer.size !== undefined) event.file.size = offer.size;
  }
  return { event, offer: { action: offer.action, rule: offer.rule } };
}
