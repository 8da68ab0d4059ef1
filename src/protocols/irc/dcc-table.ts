// DCC offers seen on IRC connections, so a later tunnel whose destination is
// an offer's address:port can be labelled as that file transfer (or chat).
// Process-wide and bounded: at most DCC_TABLE_MAX entries for DCC_TABLE_TTL_MS
// each, least recently used evicted first, so a flood of offers (zeek's
// dcc-state-growth capture) cannot grow memory.
import type { Action } from '../../events/types';
import { boundedTable } from '../../util/lru';
import type { Side } from '../types';

export const DCC_TABLE_MAX = 1024;
export const DCC_TABLE_TTL_MS = 10 * 60 * 1000;

export interface DccOffer {
  /** 'SEND' (file) or 'CHAT'. */
  type: 'SEND' | 'CHAT';
  /** Dotted IPv4 or lower-case IPv6. */
  host: string;
  port: number;
  file?: string;
  size?: number;
  /** The local user's nick on the IRC connection that carried the offer. */
  account?: string;
  /** The other party (target nick for outbound offers, sender nick for inbound). */
  peer?: string;
  /** Who made the offer: 'c2s' = the local user offered. */
  side: Side;
  /** Connection id of the IRC tunnel. */
  conn: string;
  /** The policy's verdict on the offer. */
  action: Action;
  rule: string;
  time: number;
}

// An offer's window runs from when it was made: a lookup does not extend it.
const table = boundedTable<DccOffer>({ max: DCC_TABLE_MAX, ttlMs: DCC_TABLE_TTL_MS, refreshOnGet: false });

/** Same spelling for "::ffff:1.2.3.4", "1.2.3.4" and upper/lower-case IPv6. */
export function normalizeDccHost(host: string): string {
  const h = host.toLowerCase();
  const bracket = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  return bracket.startsWith('::ffff:') && bracket.includes('.') ? bracket.slice(7) : bracket;
}

const keyOf = (host: string, port: number): string => `${normalizeDccHost(host)}|${port}`;

export function recordDccOffer(offer: DccOffer): void {
  table.set(keyOf(offer.host, offer.port), offer);
}

/** The live DCC offer for a tunnel destination, if one was seen in the last 10 minutes. */
export function lookupDccOffer(host: string, port: number): DccOffer | undefined {
  return table.get(keyOf(host, port));
}

export function dccOfferCount(): number {
  return table.size;
}

/** For tests. */
export function clearDccOffers(): void {
  table.clear();
}
