// Shape of one bench run: written as bench/results/latest.json and rendered
// into docs/benchmarks.md and the stdout table.
import type { IcapRow } from '../scenarios/icap';
import type { BulkRow } from '../scenarios/bulk';
import type { ConnRow } from '../scenarios/conn';
import type { ProfileResult } from '../scenarios/profile';
import type { ImResults } from '../scenarios/im-section';
import type { IperfRow } from '../scenarios/iperf';

export interface BenchResults {
  command: string;
  startedAt: string;
  durationSecs: number;
  machine: { cpus: number; cpuModel: string; os: string; node: string; memGiB: number; loadStart: number[]; loadEnd: number[] };
  peers: { cicap: string; dante: string; haproxy?: string; iperf3?: string };
  icapload: { file: string; sha256: string; sameAsShared: boolean | null };
  settings: Record<string, string | number | boolean>;
  imgate: { available: boolean; error?: string; rssKiB?: Record<string, number> };
  icap: IcapRow[];
  bulk: BulkRow[];
  conn: ConnRow[];
  /** iperf3 over the bulk paths (absent when iperf3/proxychains4 are missing or not selected). */
  iperf?: IperfRow[];
  profiles: ProfileResult[];
  /** IM, web IM and memory sections; absent when not selected. */
  im?: ImResults;
}
