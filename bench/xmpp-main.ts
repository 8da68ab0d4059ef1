// Runs the XMPP bench alone: `npx tsc -p tsconfig.json && node dist/bench/xmpp-main.js [secs] [rounds]`.
// Starts Prosody and imgate (compiled dist/, default allow policy), prints
// the table and the JSON result, stops both.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progress } from './lib/log';
import { installCleanup, startDaemon, stopAll, unlessExits } from './lib/proc';
import { freePort, waitPort } from './lib/ports';
import { startImgate } from './peers/imgate';
import { xmppTable } from './report/xmpp-table';
import { XMPP_BENCH_USERS, runXmpp } from './scenarios/xmpp';
import { prosodyVersion, startBenchProsody } from './scenarios/xmpp-prosody';

/**
 * BENCH_XMPP_NO_AUDIT=1: imgate with the record store off (while the store
 * is being converted, or to see what recording allowed messages costs).
 */
async function startImgateNoAudit(repoRoot: string, tmp: string): Promise<{ ports: { socks5: number } }> {
  const dir = path.join(tmp, 'imgate-no-audit');
  mkdirSync(dir, { recursive: true });
  const [socks5, http, admin] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(path.join(dir, 'policy.yaml'), 'default: allow\nrules: []\n');
  const conf = path.join(dir, 'imgate.yaml');
  writeFileSync(
    conf,
    `data_dir: ${dir}/var\nlog: { level: info }\npolicy_file: ${dir}/policy.yaml\naudit: { enabled: false }\nicap: { enabled: false }\n` +
      `socks5: { listen: { host: 127.0.0.1, port: ${socks5} } }\nhttp_proxy: { listen: { host: 127.0.0.1, port: ${http} } }\nadmin: { listen: { host: 127.0.0.1, port: ${admin} } }\n`,
  );
  const d = startDaemon('imgate', process.execPath, [path.join(repoRoot, 'bin', 'imgate.js'), 'start', '--config', conf], path.join(dir, 'imgate.out'), { cwd: dir });
  await unlessExits(d, waitPort(socks5));
  return { ports: { socks5 } };
}

async function main(): Promise<void> {
  installCleanup();
  const secs = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 3);
  const repoRoot = path.resolve(__dirname, '..', '..');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgate-xmpp-bench-'));
  try {
    const prosody = await startBenchProsody(tmp, XMPP_BENCH_USERS);
    const gw = process.env.BENCH_XMPP_NO_AUDIT === '1' ? await startImgateNoAudit(repoRoot, tmp) : await startImgate(repoRoot, tmp, 'imgate', [], false);
    progress(`prosody c2s ${prosody.c2sPort}, imgate socks5 ${gw.ports.socks5}`);
    const r = await runXmpp({ secs, rounds, bodyBytes: 100 }, prosody.c2sPort, gw.ports.socks5, prosodyVersion());
    console.log(xmppTable(r));
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
