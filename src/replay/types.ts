// Shapes shared by the capture readers, the packet decoders and the
// reassembler. Kept free of logic so each stage can be tested alone.

/** One captured frame as a reader yields it. */
export interface CapturePacket {
  /** 1-based frame number, as Wireshark counts them. */
  readonly frame: number;
  /** File offset of the frame's record (for error messages). */
  readonly offset: number;
  /** libpcap LINKTYPE_* value of the interface that captured it. */
  readonly linkType: number;
  /** Capture time: whole seconds since the epoch and the nanoseconds within. */
  readonly sec: number;
  readonly nsec: number;
  /** Captured bytes (may be shorter than origLen). Valid only during the callback. */
  readonly data: Buffer;
  readonly origLen: number;
}

/** Where a reader sends what it finds. */
export interface CaptureSink {
  packet(p: CapturePacket): void;
  /** Recoverable oddities (an unknown block, a truncated last record). */
  warn(message: string): void;
}

/** Malformed capture input: the message names the file offset. */
export class CaptureFormatError extends Error {
  constructor(
    readonly offset: number,
    readonly detail: string,
    readonly file?: string,
  ) {
    super(`${file !== undefined ? `${file}: ` : ''}offset ${offset}: ${detail}`);
    this.name = 'CaptureFormatError';
  }
}

export interface CaptureReaderLimits {
  /** Largest record/block accepted; anything declared larger is malformed. */
  maxRecordBytes: number;
}

export const DEFAULT_READER_LIMITS: CaptureReaderLimits = { maxRecordBytes: 16 * 1024 * 1024 };

/** ISO 8601 with microseconds, e.g. 2011-07-07T12:34:56.123456Z. */
export function isoTime(sec: number, nsec: number): string {
  const ms = sec * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return new Date(0).toISOString();
  const base = new Date(ms).toISOString(); // ....:56.000Z
  const micros = Math.floor(nsec / 1000);
  return `${base.slice(0, 20)}${String(micros).padStart(6, '0')}Z`;
}
