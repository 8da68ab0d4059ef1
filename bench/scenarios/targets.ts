// The paths a SOCKS/TCP measurement can take, in the order they are run
// inside each round.
import type { Mode } from '../load/handshake';

export interface PathTarget {
  /** Row label, e.g. "imgate SOCKS5". */
  name: string;
  /** Stable key for JSON and ratios. */
  key: 'direct' | 'pipe' | 'dante' | 'imgate' | 'imgate-http' | 'imgate-doors-only' | 'haproxy' | 'haproxy-splice' | 'imgate-b';
  mode: Mode;
  proxyPort: number;
  /**
   * The relay's process (all its threads), when it is one: the bulk section
   * reads its CPU time before and after each run (/proc/PID/stat), a cost per
   * GiB that the noise of a shared machine moves much less than MB/s.
   */
  cpuPid?: number;
}
