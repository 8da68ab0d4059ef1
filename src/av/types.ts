// The AV scanning contract both doors use: the ICAP services (HTTP uploads
// and downloads) and the tunnel dissectors (files reassembled from IM
// transfers). Implementations: clamd (INSTREAM), ICAP chaining (imgate as an
// ICAP client of another AV server), an external command. Each sits behind
// an opossum circuit breaker with the operator's fail-open/fail-closed choice;
// verdicts are cached by sha256 + signature version.
import type { Readable } from 'node:stream';

export type ScanOutcome =
  /** Scanned, nothing found. */
  | { status: 'clean' }
  /** Scanned, something found; `signature` as the engine names it. */
  | { status: 'infected'; signature: string }
  /**
   * Not scanned: scanner down, breaker open, timeout, over the size limit.
   * `failOpen` tells what the operator configured for this case.
   */
  | { status: 'error'; reason: string; failOpen: boolean };

export interface ScanResult {
  outcome: ScanOutcome;
  /** Scanner that produced it (config name). */
  scanner: string;
  /** sha256 hex of the scanned bytes, when the whole content was hashed. */
  sha256?: string;
  size: number;
  /** Served from the verdict cache. */
  cached: boolean;
  durationMs: number;
}

export interface ScanRequest {
  /** File name when known (for logs and events). */
  name?: string;
  /** Declared size when known (lets over-limit files skip early). */
  size?: number;
  /** Correlation for logs: connection / transaction id. */
  conn?: string;
}

export interface AvService {
  /** True when at least one scanner is configured. */
  readonly enabled: boolean;
  /**
   * Scan a stream (consumed fully; memory bounded: bytes past the spool
   * threshold go to a temp file) or a buffer.
   */
  scan(content: Readable | Buffer, req: ScanRequest): Promise<ScanResult>;
  /** Signature versions of all scanners, for the ICAP ISTag. */
  signatureVersions(): readonly string[];
  /** For /readyz: each required scanner's breaker state and reachability. */
  health(): Array<{ name: string; state: 'closed' | 'open' | 'half-open'; reachable: boolean; required: boolean }>;
  close(): Promise<void>;
}
