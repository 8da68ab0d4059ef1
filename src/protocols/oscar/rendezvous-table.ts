// File-transfer rendezvous proposals seen on OSCAR connections, by the
// address the offerer listens on, so a later tunnel to that ip:port is known
// as the transfer's data connection (OFT2, see oft.ts). Only proposals the
// local client receives are recorded: their receiver (the local client)
// dials the offerer, through the gateway. Process-wide and bounded: at most
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
}
