// Bench settings, all from the environment so a quick run and a full run use
// the same code. Defaults keep a full `npm run bench` well under 10 minutes.
import path from 'node:path';

export interface BenchConfig {
  /** Seconds per ICAP load run (icapload SECS). */
  icapSecs: number;
  /** ICAP connections per run (the baseline notes use 8). */
  icapConns: number;
  /** Alternating rounds per ICAP row; the median is reported. */
  icapRounds: number;
  /** Body sizes for the ICAP 200 (echo) rows, bytes. */
  icapSizes: number[];
  /** Bytes per bulk transfer (one TCP stream). */
  bulkBytes: number;
  /** Rounds per bulk target (alternating targets); median reported. */
  bulkRounds: number;
  /** Seconds per connections/s run. */
  connSecs: number;
  /** Concurrent closed-loop clients for connections/s. */
  connClients: number;
  /** Rounds per connections/s target; median reported. */
  connRounds: number;
  /** Run the CPU-profiled imgate passes. */
  profile: boolean;
  profileSecs: number;
  /** IM (IRC/XMPP) latency run length, seconds; rounds per row; lines per bulk run. */
  imSecs: number;
  imRounds: number;
  imBulkLines: number;
  /** Web IM REQMOD: seconds per run, alternating rounds. */
  webimSecs: number;
  webimRounds: number;
  /** Idle inspected tunnels to hold for the memory section (capped by RLIMIT_NOFILE). */
  memTunnels: number;
  /** Which sections to run: icap, bulk, conn, profile, im, webim, mem. */
  only: Set<string>;
  /** Repository root (where bin/imgate.js lives). */
  repoRoot: string;
  /** The ICAP load generator (a verbatim copy of /work/shared/tools/icapload.mjs). */
  icapload: string;
}

function num(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return v;
}

export function loadConfig(): BenchConfig {
  // dist/bench/lib/config.js -> repo root is three levels up.
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
  const secs = num('BENCH_SECS', 5);
  const rounds = Math.round(num('BENCH_ROUNDS', 3));
  const only = (process.env.BENCH_ONLY ?? 'icap,bulk,conn,profile,im,webim,mem,xmpp,record,store,av').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    icapSecs: secs,
    icapConns: Math.round(num('BENCH_ICAP_CONNS', 8)),
    icapRounds: Math.round(num('BENCH_ICAP_ROUNDS', process.env.BENCH_ROUNDS ? rounds : 5)),
    icapSizes: [1024, 65536, 1048576],
    bulkBytes: Math.round(num('BENCH_BULK_MB', 4096) * 1024 * 1024),
    bulkRounds: Math.round(num('BENCH_BULK_ROUNDS', rounds)),
    connSecs: num('BENCH_CONN_SECS', secs),
    connClients: Math.round(num('BENCH_CONN_CLIENTS', 16)),
    connRounds: Math.round(num('BENCH_CONN_ROUNDS', rounds)),
    profile: process.env.BENCH_PROFILE !== '0',
    imSecs: num('BENCH_IM_SECS', 4),
    imRounds: Math.round(num('BENCH_IM_ROUNDS', rounds)),
    imBulkLines: Math.round(num('BENCH_IM_BULK_LINES', 100000)),
    webimSecs: num('BENCH_WEBIM_SECS', 3),
    webimRounds: Math.round(num('BENCH_WEBIM_ROUNDS', rounds)),
    memTunnels: Math.round(num('BENCH_MEM_TUNNELS', 10000)),
    profileSecs: num('BENCH_PROFILE_SECS', secs),
    only: new Set(only),
    repoRoot,
    icapload: process.env.BENCH_ICAPLOAD ?? path.join(repoRoot, 'bench', 'tools', 'icapload.mjs'),
  };
}
