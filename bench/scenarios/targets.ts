// The paths a SOCKS/TCP measurement can take, in the order they are run
// inside each round.
import type { Mode } from '../load/handshake';

export interface PathTarget {
  /** Row label, e.g. "imgate SOCKS5". */
  name: string;
  /** Stable key for JSON and ratios. */
  key: 'direct' | 'pipe' | 'dante' | 'imgate' | 'imgate-http' | 'imgate-doors-only';
  mode: Mode;
  proxyPort: number;
}
