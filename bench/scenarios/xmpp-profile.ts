// CPU profile of imgate under the XMPP latency load (one <message> in
// flight through the SOCKS5 door), to find where each stanza's time goes:
//   npx tsc -p tsconfig.json && node dist/bench/scenarios/xmpp-profile.js [secs]
// Prints the self-time summary (mapped to TypeScript sources) as JSON.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { summariseProfile } from '../lib/cpuprofile';
import { progress } from '../lib/log';
import { stopDaemon } from '../lib/proc';
import { runStandalone } from '../lib/standalone';
import { startImgate } from '../peers/imgate';
import { XMPP_BENCH_USERS, once } from './xmpp';
import { startBenchProsody } from './xmpp-prosody';

runStandalone('xmpp-prof', async (tmp) => {
  const secs = Number(process.argv[2] ?? 5);
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
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
});
