// Internal contract of one scanner engine (clamd, ICAP chaining, command).
// A scanner resolves with a verdict or rejects with a ScanError; the breaker
// wrapper (breaker.ts) turns rejections into the operator's fail choice.
import type { Readable } from 'node:stream';

/** The content to scan, already hashed; each open() is a fresh stream. */
export interface ScanSource {
  readonly size: number;
  readonly sha256: string;
  open(): Readable;
  /** A file holding the content (written on demand when it is in memory). */
  path(): Promise<string>;
}

export type Verdict = { status: 'clean' } | { status: 'infected'; signature: string };

export interface Scanner {
  readonly name: string;
  readonly type: 'clamd' | 'icap' | 'command';
  scan(src: ScanSource, signal: AbortSignal, name?: string): Promise<Verdict>;
  /** Signature/engine version; rejects when the scanner is unreachable. */
  version(signal: AbortSignal): Promise<string>;
}

/**
 * `limit`: the engine refused the size (not a health problem: the breaker
 * ignores it). `protocol`: an unexpected reply. `io`: connect/read/write.
 */
export class ScanError extends Error {
  constructor(
    message: string,
    readonly kind: 'io' | 'protocol' | 'limit' | 'timeout' | 'aborted',
  ) {
    super(message);
    this.name = 'ScanError';
  }
}

export function abortError(signal: AbortSignal): ScanError {
  const r: unknown = signal.reason;
  return new ScanError(r instanceof Error ? r.message : 'scan aborted', 'aborted');
}
