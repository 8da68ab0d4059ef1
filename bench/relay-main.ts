// Runs the SOCKS/TCP relay sections alone (bulk, connections/s, iperf3):
//   npx tsc -p tsconfig.json && node dist/bench/relay-main.js
// Paths: direct, the bare Node pipe relay, Dante, HAProxy (tcp forward, splice
// off and forced on), imgate SOCKS5 (ICAP off). Settings from the same
// BENCH_* variables as `npm run bench` (BENCH_BULK_MB, BENCH_BULK_ROUNDS,
// BENCH_CONN_SECS, BENCH_ROUNDS, ...); BENCH_IPERF_SECS (default 3),
// BENCH_ONLY=bulk,conn,iperf picks sections. BENCH_IMGATE_B=DIR adds a row for
// a second imgate build (DIR/bin/imgate.js), to A/B a change in the same run.
// Prints the tables and the JSON.
import { loadConfig } from './lib/config';
import { progress } from './lib/log';
import { freePort } from './lib/ports';
import { runStandalone } from './lib/standalone';
import { danteVersion, startDante } from './peers/dante';
import { startHaproxyRows } from './peers/haproxy';
import { startImgate } from './peers/imgate';
import { iperf3Version, proxychainsAvailable, startIperf3Server } from './peers/iperf3';
import { startPipeRelay, startServers } from './peers/node-procs';
import { bulkTable, connTable, iperfTable } from './report/tables';
import type { BenchResults } from './report/results';
import { runBulk } from './scenarios/bulk';
import { runConn } from './scenarios/conn';
import { runIperf, type IperfPath } from './scenarios/iperf';
import type { PathTarget } from './scenarios/targets';

runStandalone('relay-bench', async (tmp) => {
  const cfg = loadConfig();
  const only = process.env.BENCH_ONLY ? cfg.only : new Set(['bulk', 'conn', 'iperf']);
  const iperfSecs = Number(process.env.BENCH_IPERF_SECS ?? 3);
  const ports = { dante: await freePort(), pipe: await freePort(), sink: await freePort(), origin: await freePort(), iperf: await freePort() };
  const haveIperf = only.has('iperf') && iperf3Version() !== null;
  const [, pipe] = await Promise.all([
    startServers(tmp, ports.sink, ports.origin),
    startPipeRelay(tmp, ports.pipe),
    startDante(tmp, ports.dante),
    haveIperf ? startIperf3Server(tmp, ports.iperf) : null,
  ]);
  const ha = await startHaproxyRows(tmp, { sink: ports.sink, origin: ports.origin, ...(haveIperf ? { iperf: ports.iperf } : {}) });
  const g = await startImgate(cfg.repoRoot, tmp, 'imgate', [], false);
  const bRoot = process.env.BENCH_IMGATE_B;
  const gb = bRoot ? await startImgate(bRoot, tmp, 'imgate-b', [], false) : null;
  progress(`sink :${ports.sink} origin :${ports.origin} pipe :${ports.pipe} dante :${ports.dante} imgate socks5 :${g.ports.socks5} haproxy ${ha.map((h) => `:${h.sink}`).join(' ')}`);

  const common = (forHa: (h: (typeof ha)[number]) => number): PathTarget[] => [
    { name: 'direct (no proxy)', key: 'direct', mode: 'direct', proxyPort: 0 },
    { name: 'bare Node pipe relay', key: 'pipe', mode: 'socks5', proxyPort: ports.pipe, ...(pipe.cp.pid !== undefined ? { cpuPid: pipe.cp.pid } : {}) },
    { name: danteVersion(), key: 'dante', mode: 'socks5', proxyPort: ports.dante },
    ...ha.map((h): PathTarget => ({ name: h.name, key: h.key, mode: 'forward', proxyPort: forHa(h), ...(h.daemon.cp.pid !== undefined ? { cpuPid: h.daemon.cp.pid } : {}) })),
    { name: 'imgate SOCKS5', key: 'imgate', mode: 'socks5', proxyPort: g.ports.socks5, ...(g.cp.pid !== undefined ? { cpuPid: g.cp.pid } : {}) },
    ...(gb ? [{ name: `imgate SOCKS5, build ${bRoot}`, key: 'imgate-b', mode: 'socks5', proxyPort: gb.ports.socks5, ...(gb.cp.pid !== undefined ? { cpuPid: gb.cp.pid } : {}) } satisfies PathTarget] : []),
  ];
  const r: Pick<BenchResults, 'bulk' | 'conn' | 'iperf'> = { bulk: [], conn: [] };
  if (only.has('bulk')) r.bulk = await runBulk(cfg, common((h) => h.sink), ports.sink);
  if (only.has('conn')) r.conn = await runConn(cfg, common((h) => h.origin), ports.origin);
  if (haveIperf) {
    const paths: IperfPath[] = [{ name: 'direct (no proxy)', key: 'direct', via: 'direct', port: ports.iperf }];
    if (proxychainsAvailable()) {
      paths.push({ name: 'bare Node pipe relay (proxychains4)', key: 'pipe', via: 'socks5', port: ports.pipe });
      paths.push({ name: `${danteVersion()} (proxychains4)`, key: 'dante', via: 'socks5', port: ports.dante });
    }
    for (const h of ha) if (h.iperf !== undefined) paths.push({ name: h.name, key: h.key, via: 'forward', port: h.iperf });
    if (proxychainsAvailable()) paths.push({ name: 'imgate SOCKS5 (proxychains4)', key: 'imgate', via: 'socks5', port: g.ports.socks5 });
    if (proxychainsAvailable() && gb) paths.push({ name: `imgate SOCKS5, build ${bRoot} (proxychains4)`, key: 'imgate-b', via: 'socks5', port: gb.ports.socks5 });
    r.iperf = await runIperf(tmp, paths, ports.iperf, iperfSecs, cfg.bulkRounds);
  }
  const results = r as BenchResults;
  if (r.bulk.length) console.log(`\n${bulkTable(results)}`);
  if (r.conn.length) console.log(`\n${connTable(results)}`);
  if (r.iperf?.length) console.log(`\n${iperfTable(results)}`);
  console.log(JSON.stringify(r));
});
