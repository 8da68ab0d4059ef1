// Turns a recorded rendezvous proposal into the description of the data
// connection the relay is about to open: the policy decides the transfer
// itself (kind 'file', as the offer was), a blocked offer stays blocked, and
// the file's bytes are found inside the OFT2 framing (oft.ts).
//
// Not handled (the tunnel is then not recognised as a transfer, or not at
// all): proxied transfers (TLV 0x0010, AOL's ars.oscar.aol.com rendezvous
// proxy: its own framing on port 5190/443, the proposal names the proxy,
// not the offerer), reverse connections (request number 2: the receiver
// listens and the local sender dials out, so the file flows client ->
// upstream, the other way from what ExpectedConnection.payload reads), and
// outbound proposals (the remote receiver dials the local client directly,
// which does not cross the gateway's doors).
import type { ExpectedConnection } from '../types';
import { OftPayload } from './oft';
import { lookupRendezvous } from './rendezvous-table';

export function expectedOftConnection(host: string, port: number): ExpectedConnection | undefined {
  const offer = lookupRendezvous(host, port);
  if (offer === undefined) return undefined;
  const event = { ...offer.draft, file: { ...offer.draft.file }, detail: { ...offer.draft.detail, rendezvous: 'oft', offerConn: offer.conn, cookie: offer.cookie, data: true } };
  return { event, offer: offer.verdict, payload: () => new OftPayload() };
}
