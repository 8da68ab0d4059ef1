// File-transfer rendezvous proposals seen on OSCAR connections, by the
// address the dialled side listens on, so a later tunnel to that ip:port is
// known as the transfer's data connection (OFT2, see oft.ts). Only
// addresses the local client dials are recorded (those tunnels cross the
// gateway): a remote offerer's (request 1, the file flows to the client:
// draft.side 's2c') and a remote receiver's that asks the local offerer to
// dial it instead (request 2, "reverse": the file flows from the client,
// draft.side 'c2s'), see rendezvous-dial.ts. Every decided proposal is also
// kept by cookie, so a later one for it (reverse, proxy) is known as that
// transfer, with its direction and verdict. Process-wide and bounded: at most
// RV_TABLE_MAX entries for RV_TABLE_TTL_MS each, least recently used
// evicted first, so a flood of proposals cannot grow memory.
import type { Verdict } from '../../events/types';
import { normalizeAddress } from '../../util/cidr';
import { boundedTable } from '../../util/lru';
import type { EventDraft } from '../types';

export const RV_TABLE_MAX = 1024;
export const RV_TABLE_TTL_MS = 10 * 60 * 1000;

export interface RendezvousOffer {
  /** The offer's event as it was decided (kind file, side s2c, account, peer, file). */
  draft: EventDraft;
  verdict: Verdict;
  /** Connection id of the OSCAR tunnel that carried the proposal. */
  conn: string;
  /** Rendezvous cookie (hex), to tell proposals apart in logs. */
  cookie: string;
}

// A proposal's window runs from when it was made: a lookup does not extend it.
const table = boundedTable<RendezvousOffer>({ max: RV_TABLE_MAX, ttlMs: RV_TABLE_TTL_MS, refreshOnGet: false });

const keyOf = (host: string, port: number): string => {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return `${normalizeAddress(h.toLowerCase())}|${port}`;
};

// Decided proposals by cookie (a reverse or proxy proposal names the same cookie).
const byCookie = boundedTable<RendezvousOffer>({ max: RV_TABLE_MAX, ttlMs: RV_TABLE_TTL_MS, refreshOnGet: false });

export function recordOffer(offer: RendezvousOffer): void {
  byCookie.set(offer.cookie, offer);
}

export function lookupOffer(cookie: string): RendezvousOffer | undefined {
  return byCookie.get(cookie);
}

export function recordRendezvous(host: string, port: number, offer: RendezvousOffer): void {
  table.set(keyOf(host, port), offer);
}

/** The live proposal for a tunnel destination, if one was seen in the last 10 minutes. */
export function lookupRendezvous(host: string, port: number): RendezvousOffer | undefined {
  return table.get(keyOf(host, port));
}

export function rendezvousCount(): number {
  return table.size;
}

/** For tests. */
export function clearRendezvous(): void {
  table.clear();
  byCookie.clear();
}
