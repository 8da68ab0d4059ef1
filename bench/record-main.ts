// Runs the recording-cost measurement alone:
//   npx tsc -p tsconfig.json && node dist/bench/record-main.js
// BENCH_SECS (default 5), BENCH_ROUNDS (3), BENCH_IM_BULK_LINES (20000),
// BENCH_ICAP_CONNS (8), BENCH_RECORD_MODES (off,inline,thread; 'before' adds a
// gateway run from BENCH_RECORD_BEFORE, a copy of an older bin/ + dist/ + node_modules link),
// BENCH_RECORD_WHATS (irc-latency,irc-bulk,webim-reqmod).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { installCleanup } from './lib/proc';
import { recordTable } from './report/record-table';
import { ALL_RECORD_MODES, RECORD_MODES, RECORD_WHATS, runRecord, type RecordMode, type RecordWhat } from './scenarios/record';

const num = (name: string, d: number): number => {
  const v = Number(process.env[name] ?? d);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number`);
  return v;
};

async function main(): Promise<void> {
  installCleanup();
  const repoRoot = path.resolve(__dirname, '..', '..');
  const tmp = mkdtempSync(path.join(tmpdir(), 'imgate-record-bench-'));
  const modes = (process.env.BENCH_RECORD_MODES ?? RECORD_MODES.join(',')).split(',').filter((m): m is RecordMode => (ALL_RECORD_MODES as readonly string[]).includes(m));
  const whats = (process.env.BENCH_RECORD_WHATS ?? RECORD_WHATS.join(',')).split(',').filter((m): m is RecordWhat => (RECORD_WHATS as readonly string[]).includes(m));
  const before = process.env.BENCH_RECORD_BEFORE;
  try {
    const r = await runRecord(repoRoot, tmp, {
      secs: num('BENCH_SECS', 5),
      rounds: Math.round(num('BENCH_ROUNDS', 3)),
      bulkLines: Math.round(num('BENCH_IM_BULK_LINES', 20_000)),
      icapConns: Math.round(num('BENCH_ICAP_CONNS', 8)),
      modes,
      whats,
      ...(before ? { beforeRoot: path.resolve(before) } : {}),
    });
    const out = path.join(repoRoot, 'bench', 'results', 'record.json');
    writeFileSync(out, `${JSON.stringify(r, null, 2)}\n`);
    process.stdout.write(`${recordTable(r)}\n\n(results: ${out})\n`);
    if (r.errors.length) process.exitCode = 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
