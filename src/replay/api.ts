// Public shapes of the capture replayer.
import type { Verdict } from '../events/types';
import type { EventDraft, InspectOptions, ProtocolModule } from '../protocols/types';
import type { TcpCloseState } from './connections';

/** The connection an event belongs to, as `decide` sees it. */
export interface ReplayConn {
  /** "tcp-N", numbered in order of first appearance (like Wireshark's tcp.stream). */
  readonly id: string;
  /** "ip:port" ("[ip]:port" for IPv6). */
  readonly client: string;
  readonly server: string;
  readonly clientIp: string;
  readonly serverIp: string;
  readonly serverPort: number;
  readonly protocol: string;
  /** Capture time of the packet being replayed: ISO 8601 and epoch milliseconds. */
  readonly time: string;
  readonly timeMs: number;
}

export type ReplayEvent = EventDraft & {
  conn: string;
  time: string;
  client: string;
  server: string;
  verdict: Verdict;
};

export interface ReplayConnSummary {
  conn: string;
  client: string;
  server: string;
  /** The matching module's name, or 'unknown'. */
  protocol: string;
  /** Hex of the first 16 bytes of the side the probes gave up on (the client's when it spoke; unknown protocols only). */
  fingerprint?: string;
  /** How the client was told apart from the server. */
  orientedBy: 'syn' | 'first-talker' | 'ports';
  /** Reassembled payload bytes each way. */
  bytes: { c2s: number; s2c: number };
  /** What the dissector passed on (forward) and made up (inject), per side of origin / destination. */
  forwarded: { c2s: number; s2c: number };
  injected: { c2s: number; s2c: number };
  /** Holes in the capture (missing segments), count and bytes. */
  gaps: { c2s: number; s2c: number };
  gapBytes: { c2s: number; s2c: number };
  events: number;
  /** TCP state at the end: 'fin', 'rst', 'evicted', or 'open' (capture ended first). */
  tcp: TcpCloseState;
  /** Why the connection closed: the dissector's close reason when it gave up, else the TCP state. */
  closed: string;
}

export interface ReplayLimits {
  /** Largest pcap record / pcapng block (bytes). */
  maxRecordBytes: number;
  /** Out-of-order bytes held per direction before a gap is declared. */
  maxOooBytes: number;
  maxOooSegments: number;
  /** Live connections tracked at once; the least recently used is evicted. */
  maxConnections: number;
  /** Head bytes per side the probes may see (the live relay's probe_max_bytes). */
  probeMaxBytes: number;
  /** Bytes held for a connection while its protocol is undecided. */
  maxProbeHoldBytes: number;
  /** Warnings kept; the rest are counted. */
  maxWarnings: number;
}

export const DEFAULT_REPLAY_LIMITS: ReplayLimits = {
  maxRecordBytes: 16 * 1024 * 1024,
  maxOooBytes: 256 * 1024,
  maxOooSegments: 1024,
  maxConnections: 4096,
  probeMaxBytes: 512,
  maxProbeHoldBytes: 64 * 1024,
  maxWarnings: 1000,
};

export interface ReplayOptions {
  modules: readonly ProtocolModule[];
  /** Default: allow everything (rule 'default'). */
  decide?: (ev: EventDraft, conn: ReplayConn) => Verdict;
  /** Default: the whole text becomes '****'. */
  redact?: (text: string, v: Verdict) => string;
  options?: Partial<InspectOptions>;
  limits?: Partial<ReplayLimits>;
}

export interface ReplayResult {
  events: ReplayEvent[];
  connections: ReplayConnSummary[];
  warnings: string[];
  stats: ReplayStats;
}

export interface ReplayStats {
  format: 'pcap' | 'pcapng' | null;
  frames: number;
  tcpSegments: number;
  udpPackets: number;
  ipFragments: number;
  otherPackets: number;
  malformedPackets: number;
  evictedConnections: number;
  /** Most out-of-order bytes held at once by one direction (memory bound check). */
  peakHeldBytes: number;
  /** Most connections tracked at once. */
  peakConnections: number;
}
