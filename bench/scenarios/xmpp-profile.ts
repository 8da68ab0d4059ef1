// CPU profile of imgate under the XMPP latency load (one <message> in
// flight through the SOCKS5 door), to find where each stanza's time goes:
//   npx tsc -p tsconfig.json && node dist/bench/scenarios/xmpp-profile.js [secs]
// Prints the self-time summary (mapped to TypeScript sources) as JSON.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summariseProfile } from '../lib/cpuprofile';
import { progress } from '../lib/log';
import { installCleanup, stopAll, stopDaemon } from '../lib/proc';
import { startImgate } from '../peers/imgate';
import { XMPP_BENCH_USERS, once } from './xmpp';
import { startBenchProsody } from './xmpp-prosody';

async function main(): Promise<void> {
  installCleanup();
  const secs = Number(process.argv[2] ?? 5);
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgate-xmpp-prof-'));
  try {
    const prosody = await startBenchProsody(tmp, XMPP_BENCH_USERS);
    const profDir = path.join(tmp, 'cpuprof');
    const g = await startImgate(repoRoot, tmp, 'imgate', ['--cpu-prof', `--cpu-prof-dir=${profDir}`], false);
    const via = { mode: 'socks5' as const, proxyPort: g.ports.socks5, dstPort: prosody.c2sPort };
    const pad = 'x'.repeat(92);
    const r = await once('latency', via, { secs, rounds: 1, bodyBytes: 100 }, pad);
    progress(`xmpp profile load: ${r.rate.toFixed(0)} msg/s, p50 ${r.p50_us?.toFixed(0)} us (profiler on)`);
    await stopDaemon(g);
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
    if (f === undefined) throw new Error('no .cpuprofile written');
    const s = summariseProfile(path.join(profDir, f), repoRoot, 40);
    console.log(JSON.stringify({ msgs: r.msgs, perMsgUs: (s.busyMs * 1000) / r.msgs, ...s }, null, 1));
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
