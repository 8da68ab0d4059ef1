// CPU profile of imgate under the XMPP load through the SOCKS5 door (latency:
// one <message> in flight; rate: 32 in flight), to find where each stanza's
// time goes:
//   npx tsc -p tsconfig.json && node dist/bench/scenarios/xmpp-profile.js [secs] [latency|rate]
// BENCH_XMPP_NO_AUDIT=1: record store off (separates the audit hand-off).
// BENCH_XMPP_PROF_KEEP=DIR: copy the .cpuprofile there (for DevTools).
// Prints the self-time summary (mapped to TypeScript sources) as JSON.
import { copyFileSync, readdirSync } from 'node:fs';
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
  const mode = process.argv[3] === 'rate' ? 'rate' : 'latency';
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
  const prosody = await startBenchProsody(tmp, XMPP_BENCH_USERS);
  const profDir = path.join(tmp, 'cpuprof');
  const variant = process.env.BENCH_XMPP_NO_AUDIT === '1' ? { extraYaml: 'audit: { enabled: false }\n' } : {};
  const g = await startImgate(repoRoot, tmp, 'imgate', ['--cpu-prof', '--cpu-prof-interval=200', `--cpu-prof-dir=${profDir}`], false, 0, variant);
  const via = { mode: 'socks5' as const, proxyPort: g.ports.socks5, dstPort: prosody.c2sPort };
  const pad = 'x'.repeat(92);
  const r = await once(mode, via, { secs, rounds: 1, bodyBytes: 100 }, pad);
  progress(`xmpp ${mode} profile load: ${r.rate.toFixed(0)} msg/s${r.p50_us !== undefined ? `, p50 ${r.p50_us.toFixed(0)} us` : ''} (profiler on)`);
  await stopDaemon(g);
  const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
  if (f === undefined) throw new Error('no .cpuprofile written');
  const keep = process.env.BENCH_XMPP_PROF_KEEP;
  if (keep !== undefined && keep !== '') copyFileSync(path.join(profDir, f), path.join(keep, `xmpp-${mode}.cpuprofile`));
  const s = summariseProfile(path.join(profDir, f), repoRoot, 40);
  console.log(JSON.stringify({ msgs: r.msgs, perMsgUs: (s.busyMs * 1000) / r.msgs, ...s }, null, 1));
});
