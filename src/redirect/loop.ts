// Loop protection: a redirected connection must never be dialed back into
// the gateway itself (DNS that points the IM domain at us for clients
// points it at us for the gateway too). Checked on the destination before
// the dial when it is an IP literal, and on the connected socket's peer
// address after it, which also catches names that resolved to us.
import os from 'node:os';
import net from 'node:net';
import { normalizeAddress } from '../util/cidr';

export interface BoundAddress {
  address: string;
  port: number;
}

const isUnspecified = (a: string): boolean => a === '0.0.0.0' || a === '::';
const isLoopback = (a: string): boolean => a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));

/** This host's own addresses (read once per call: interfaces can change). */
export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const ni of list ?? []) out.add(normalizeAddress(ni.address.replace(/%.*$/, '')).toLowerCase());
  }
  return out;
}

/**
 * True when (ip, port) reaches one of `own`. `local` answers "is this an
 * address of this host" for listeners bound to 0.0.0.0 / ::; names are
 * never matched (only the post-dial check can see what they resolved to).
 */
export function isOwnAddress(ip: string, port: number, own: readonly BoundAddress[], local: () => ReadonlySet<string>): boolean {
  if (net.isIP(ip) === 0) return false;
  const dest = normalizeAddress(ip).toLowerCase();
  let localSet: ReadonlySet<string> | null = null;
  for (const l of own) {
    if (l.port !== port) continue;
    const bound = normalizeAddress(l.address).toLowerCase();
    if (bound === dest) return true;
    // Connecting to 0.0.0.0 / :: reaches this host.
    if (isUnspecified(dest) && (isUnspecified(bound) || isLoopback(bound))) return true;
    if (isUnspecified(bound)) {
      if (isUnspecified(dest) || isLoopback(dest)) return true;
      localSet ??= local();
      if (localSet.has(dest)) return true;
    }
  }
  return false;
}
