// Standalone AV bench: npx tsc -p tsconfig.json && node dist/bench/av-main.js [--quick]
import { installCleanup } from './lib/proc';
import { avTable } from './report/av-table';
import { runAvBench } from './scenarios/av';

async function main(): Promise<void> {
  installCleanup();
  const quick = process.argv.includes('--quick');
  const r = await runAvBench(quick ? { samples: 5, cacheFiles: 10, cacheRounds: 3 } : {});
  process.stdout.write(avTable(r));
  process.stdout.write(`\n${JSON.stringify(r)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`av bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
