// Runs the XMPP bench alone: `npx tsc -p tsconfig.json && node dist/bench/xmpp-main.js [secs] [rounds]`.
// Starts Prosody and imgate (compiled dist/, default allow policy), prints
// the table and the JSON result, stops both.
// BENCH_XMPP_NO_AUDIT=1: imgate with the record store off (to see what
// recording allowed messages costs). Also prints CPU per message by process.
// BENCH_XMPP_WINDOW=N: messages in flight in rate mode (default 32).
// BENCH_XMPP_PROSODY_NAGLE=1: Prosody with its default Nagle (the stalls the
// bench now avoids, see scenarios/xmpp-prosody.ts). Defaults: 4 s x 5 rounds.
import path from 'node:path';
import { progress } from './lib/log';
import { runStandalone } from './lib/standalone';
import { startImgate } from './peers/imgate';
import { xmppTable } from './report/xmpp-table';
import { XMPP_BENCH_USERS, runXmpp, xmppCpuTable } from './scenarios/xmpp';
import { prosodyVersion, startBenchProsody } from './scenarios/xmpp-prosody';

runStandalone('xmpp-bench', async (tmp) => {
  const secs = Number(process.argv[2] ?? 4);
  const rounds = Number(process.argv[3] ?? 5);
  const repoRoot = path.resolve(__dirname, '..', '..');
  const prosody = await startBenchProsody(tmp, XMPP_BENCH_USERS);
  const variant = process.env.BENCH_XMPP_NO_AUDIT === '1' ? { extraYaml: 'audit: { enabled: false }\n' } : {};
  const gw = await startImgate(repoRoot, tmp, 'imgate', [], false, 0, variant);
  progress(`prosody c2s ${prosody.c2sPort}, imgate socks5 ${gw.ports.socks5}`);
  const r = await runXmpp({ secs, rounds, bodyBytes: 100 }, prosody.c2sPort, gw.ports.socks5, prosodyVersion(), { gateway: gw.cp.pid, prosody: prosody.cp.pid });
  console.log(xmppTable(r));
  console.log(xmppCpuTable(r));
  console.log(JSON.stringify(r));
});
