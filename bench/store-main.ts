// Runs the record-store bench alone: `npx tsc -p tsconfig.json && node dist/bench/store-main.js [secs] [rounds] [batch]`.
// Starts a throwaway PostgreSQL 15, prints the table and the JSON result, stops it.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCleanup, stopAll } from './lib/proc';
import { storeTable } from './report/store-table';
import { runStore } from './scenarios/store';

async function main(): Promise<void> {
  installCleanup();
  const secs = Number(process.argv[2] ?? 3);
  const rounds = Number(process.argv[3] ?? 3);
  const batch = Number(process.argv[4] ?? 256);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgate-store-bench-'));
  try {
    const r = await runStore({ secs, rounds, batch }, tmp);
    console.log(storeTable(r));
    console.log(JSON.stringify(r));
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (e: unknown) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
