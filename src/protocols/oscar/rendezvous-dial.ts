// Which way a proposal's file flows, and where the local client will dial
// for it, from the rendezvous TLVs (libpurple oscar/peer.c
// peer_connection_trynext, family_icbm.c aim_im_sendch2_sendfile_*):
//
//   request 1: the offerer proposes and listens (or, with TLV 0x0010, waits
//              at AOL's rendezvous proxy): the receiver dials;
//   request 2: the receiver could not connect and proposes its own address:
//              the offerer dials ("reverse");
//   request 3: the offerer could not connect either and proposes a proxy
//              session: the receiver dials the proxy and joins it.
//
// So an odd request comes from the file's sender, an even one from its
// receiver, whichever of them dials. A proposal for a cookie seen before is
// the same transfer: the first proposal's direction (and verdict) holds.
//
// Only dials by the local client cross the gateway, i.e. proposals it
// receives (s2c). Direct: the proposal's addresses (TLVs 0x0002/3/4) and
// port. Proxied: the proxy's address (TLV 0x0002) on the proxy's own TCP
// ports (RV_PROXY_PORTS); TLV 0x0005 is then the proxy session's number,
// sent inside the JOIN frame, not a TCP port.
import type { Side } from '../types';
import { otherSide } from '../types';
import type { Rendezvous } from './icbm';
import { recordRendezvous, type RendezvousOffer } from './rendezvous-table';

/** ars.oscar.aol.com listened on 5190 (libpurple PEER_PROXY_PORT) and later 443. */
export const RV_PROXY_PORTS: readonly number[] = [5190, 443];

/** The side the file flows from (draft.side of the transfer) for a proposal seen coming from `side`. */
export function fileFlow(side: Side, requestNumber: number): Side {
  return requestNumber % 2 === 1 ? side : otherSide(side);
}

/** Records where the local client will dial for `offer` (a proposal it received). */
export function expectDial(rv: Rendezvous, offer: RendezvousOffer): void {
  if (rv.proxy) {
    if (rv.proxyIp === undefined) return;
    for (const port of RV_PROXY_PORTS) recordRendezvous(rv.proxyIp, port, offer);
    return;
  }
  if (rv.port === undefined) return;
  for (const ip of rv.addresses) recordRendezvous(ip, rv.port, offer);
}
