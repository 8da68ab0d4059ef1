// Turns a recorded rendezvous proposal into the description of the data
// connection the relay is about to open: the policy decides the transfer
// itself (kind 'file', as the offer was), a blocked offer stays blocked, and
// the file's bytes are found inside the OFT2 framing (oft.ts), one file after
// the other when the session carries several.
//
// Direction: ExpectedConnection.fileFrom (also in the event's
// detail.file_from) says which end of the data connection sends the file
// (rendezvous-dial.ts): 'upstream' (the client dialled the remote sender:
// request 1, or request 3 for a remote offer) or 'client' (the client
// dialled the remote receiver and sends its own offer's file: request 2
// "reverse", or a proxy session for its own offer; the event's side is then
// 'c2s'). The payload reads the sender's direction, so the relay
// (src/inspect/file-data.ts) reads from the client for 'client'.
//
// AOL rendezvous proxy (TLV 0x0010): handled when the local client JOINS a
// proxy session the other party created: it dials the proxy's address (TLV
// 0x0002) on RV_PROXY_PORTS, and oft.ts skips the proxy frames before OFT2.
// Not handled:
//  - the local client CREATING the proxy session (its tunnel to the proxy
//    opens before any proposal names it, so nothing expects it: it is an
//    ordinary tunnel of unknown protocol);
//  - a proxy on another TCP port than RV_PROXY_PORTS;
//  - several proxied transfers through one proxy at once: they share its
//    address, the newest proposal's entry wins and the JOIN's cookie is not
//    matched against it;
//  - connections the remote side dials to the local client (the local
//    client's request 1 or 2), which do not cross the gateway's doors.
import type { ExpectedConnection } from '../types';
import { OftPayload } from './oft';
import { lookupRendezvous } from './rendezvous-table';

export function expectedOftConnection(host: string, port: number): ExpectedConnection | undefined {
  const offer = lookupRendezvous(host, port);
  if (offer === undefined) return undefined;
  const fileFrom = offer.draft.side === 'c2s' ? 'client' : 'upstream';
  const detail: Record<string, string | number | boolean> = { ...offer.draft.detail, rendezvous: 'oft', file_from: fileFrom, offerConn: offer.conn, cookie: offer.cookie, data: true };
  const file = { ...offer.draft.file };
  const count = offer.draft.detail?.['fileCount'];
  if (typeof count === 'number' && count > 1 && file.size !== undefined) {
    // A multi-file offer states the session's total size; each file's own size comes from its OFT2 prompt.
    detail['offeredTotalSize'] = file.size;
    delete file.size;
  }
  const event = { ...offer.draft, file, detail };
  return { event, offer: offer.verdict, payload: () => new OftPayload(), fileFrom };
}
