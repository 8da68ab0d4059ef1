// Runs the record-store bench alone: `npx tsc -p tsconfig.json && node dist/bench/store-main.js [secs] [rounds] [batch]`;
// BENCH_STORE_BEFORE=<dir with an older dist/> also measures that build's SQLite store, alternating (A/B).
// Starts a throwaway PostgreSQL 15, prints the table and the JSON result, stops it.
import { runStandalone } from './lib/standalone';
import { storeTable } from './report/store-table';
import { runStore } from './scenarios/store';

runStandalone('store-bench', async (tmp) => {
  const secs = Number(process.argv[2] ?? 3);
  const rounds = Number(process.argv[3] ?? 3);
  const batch = Number(process.argv[4] ?? 256);
  const before = process.env.BENCH_STORE_BEFORE;
  const r = await runStore({ secs, rounds, batch, ...(before ? { beforeRoot: before } : {}) }, tmp);
  console.log(storeTable(r));
  console.log(JSON.stringify(r));
});
