// The inspect: section of the config as the relay reads it per tunnel
// (built once per config load, so a reload applies to new tunnels).
import type { Config } from '../config/load';
import type { InspectOptions } from '../protocols/types';

export interface InspectSettings {
  /** false: tunnels are bare pipes, no probing. */
  readonly enabled: boolean;
  /** Bytes of one side's head the probes may see before 'more' counts as 'no'. */
  readonly probeMaxBytes: number;
  /** How long to wait for a silent client before probing what the server sent. */
  readonly probeTimeoutMs: number;
  /** Longest message text written to the 'im event' log line. */
  readonly logTextMax: number;
  /**
   * Bytes of a scanned tunnel file held back until its AV verdict (config
   * inspect.file_hold_back_bytes); 0 = hold nothing. Absent: FILE_HOLD_BACK_BYTES.
   */
  readonly fileHoldBackBytes?: number;
  /** Handed to every dissector session. */
  readonly options: InspectOptions;
}

/** The default hold-back: the ICAP trickle's (src/web/transfer.ts TRICKLE_HOLD_BACK_BYTES). */
export const FILE_HOLD_BACK_BYTES = 8 * 1024;
/** The config's bound: a held file keeps up to this much in memory. */
export const FILE_HOLD_BACK_MAX = 16 * 1024 * 1024;

export function inspectSettingsFromConfig(config: Config): InspectSettings {
  const c = config.inspect;
  return Object.freeze({
    enabled: c.enabled,
    probeMaxBytes: c.probe_max_bytes,
    probeTimeoutMs: c.probe_timeout_ms,
    logTextMax: c.log_text_max,
    fileHoldBackBytes: c.file_hold_back_bytes,
    options: Object.freeze({ starttls: c.starttls, maxUnitBytes: c.max_unit_bytes }),
  });
}
