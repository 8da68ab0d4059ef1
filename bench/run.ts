// `npm run bench`: start the baselines (c-icap, Dante, a bare Node pipe
// relay, direct loopback) and imgate on free loopback ports, measure them
// interleaved, write docs/benchmarks.md and bench/results/latest.json, print
// the tables to stdout. Every process started here is stopped here.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './lib/config';
import { progress } from './lib/log';
import { freePort } from './lib/ports';
import { installCleanup, stopAll } from './lib/proc';
import { cicapVersion, startCicap } from './peers/cicap';
import { danteVersion, startDante } from './peers/dante';
import { haproxyVersion, startHaproxyRows, type HaproxyRows } from './peers/haproxy';
import { iperf3Version, proxychainsAvailable, startIperf3Server } from './peers/iperf3';
import { imgateBuilt, startImgate, type Imgate } from './peers/imgate';
import { startPipeRelay, startServers } from './peers/node-procs';
import { runIcap } from './scenarios/icap';
import { runBulk } from './scenarios/bulk';
import { runConn } from './scenarios/conn';
import { runIperf, type IperfPath } from './scenarios/iperf';
import { runProfiles } from './scenarios/profile';
import { runImSection } from './scenarios/im-section';
import type { PathTarget } from './scenarios/targets';
import type { BenchResults } from './report/results';
import { renderMarkdown } from './report/markdown';
import { imStdout } from './report/im-tables';
import { bulkTable, connTable, headlineTable, icapTable, iperfTable } from './report/tables';

// The shared generator beside the repository (../shared), to prove the copy is verbatim.
const SHARED_ICAPLOAD = path.resolve(__dirname, '..', '..', '..', 'shared', 'tools', 'icapload.mjs');

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** imgate's resident memory (KiB) from /proc, to spot growth between sections. */
function rssKiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function commandLine(): string {
  const env = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v}`);
  // Name what was actually run: via npm (build + bench) or the compiled file directly.
  const cmd = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node dist/bench/run.js';
  return [...env, cmd].join(' ');
}

async function main(): Promise<void> {
  installCleanup();
  const cfg = loadConfig();
  const t0 = Date.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgate-bench-'));
  progress(`work dir ${tmp}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const icaploadSha = sha256(cfg.icapload);
  const results: BenchResults = {
    command: commandLine(),
    startedAt: new Date().toISOString(),
    durationSecs: 0,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', os: `${os.type()} ${os.release()}`, node: process.version, memGiB: os.totalmem() / 2 ** 30, loadStart: os.loadavg(), loadEnd: [] },
    peers: { cicap: cicapVersion(), dante: danteVersion(), haproxy: haproxyVersion(), iperf3: iperf3Version() ?? 'not installed' },
    icapload: { file: path.relative(cfg.repoRoot, cfg.icapload), sha256: icaploadSha, sameAsShared: existsSync(SHARED_ICAPLOAD) ? sha256(SHARED_ICAPLOAD) === icaploadSha : null },
    settings: {
      icapSecs: cfg.icapSecs, icapConns: cfg.icapConns, icapRounds: cfg.icapRounds,
      bulkMiB: cfg.bulkBytes / 2 ** 20, bulkRounds: cfg.bulkRounds,
      connSecs: cfg.connSecs, connClients: cfg.connClients, connRounds: cfg.connRounds,
      profile: cfg.profile, profileSecs: cfg.profileSecs, only: [...cfg.only].join(','),
      imSecs: cfg.imSecs, imRounds: cfg.imRounds, imBulkLines: cfg.imBulkLines,
      webimSecs: cfg.webimSecs, webimRounds: cfg.webimRounds, memTunnels: cfg.memTunnels,
    },
    imgate: { available: false },
    icap: [], bulk: [], conn: [], profiles: [],
  };

  try {
    const ports = { cicap: await freePort(), dante: await freePort(), pipe: await freePort(), sink: await freePort(), origin: await freePort(), iperf: await freePort() };
    progress(`starting peers: c-icap :${ports.cicap}, danted :${ports.dante}, pipe relay :${ports.pipe}, sink :${ports.sink}, origin :${ports.origin}`);
    const haveIperf = cfg.only.has('bulk') && iperf3Version() !== null;
    const [, , pipeRelay] = await Promise.all([
      startCicap(tmp, ports.cicap),
      startDante(tmp, ports.dante),
      startPipeRelay(tmp, ports.pipe),
      startServers(tmp, ports.sink, ports.origin),
      haveIperf ? startIperf3Server(tmp, ports.iperf) : null,
    ]);
    // HAProxy (scripts/install-bench-deps.sh): the reference relays; the bench runs without them when it is missing.
    let ha: HaproxyRows[] = [];
    if ((cfg.only.has('bulk') || cfg.only.has('conn')) && !haproxyVersion().includes('not installed')) {
      ha = await startHaproxyRows(tmp, { sink: ports.sink, origin: ports.origin, ...(haveIperf ? { iperf: ports.iperf } : {}) });
    }

    let g: Imgate | null = null;
    // A second imgate with ICAP off that only serves the SOCKS rows: it shows
    // whether the main process (which served the ICAP section first, as one
    // deployed process would) relays slower than a process that did not.
    let doorsOnly: Imgate | null = null;
    if (!imgateBuilt(cfg.repoRoot)) {
      results.imgate.error = 'dist/src/cli/main.js missing (run npm run build)';
    } else {
      try {
        g = await startImgate(cfg.repoRoot, tmp, 'imgate');
        results.imgate.available = true;
        progress(`imgate up: icap :${g.ports.icap}, socks5 :${g.ports.socks5}, http :${g.ports.http}`);
        if (cfg.only.has('bulk') || cfg.only.has('conn')) doorsOnly = await startImgate(cfg.repoRoot, tmp, 'imgate-doors-only', [], false);
      } catch (e) {
        results.imgate.error = (e as Error).message.slice(0, 600);
      }
    }
    if (!results.imgate.available) progress(`imgate not available: ${results.imgate.error}; measuring baselines only`);

    const targets: PathTarget[] = [
      { name: 'direct (no proxy)', key: 'direct', mode: 'direct', proxyPort: 0 },
      { name: 'bare Node pipe relay', key: 'pipe', mode: 'socks5', proxyPort: ports.pipe, ...(pipeRelay.cp.pid !== undefined ? { cpuPid: pipeRelay.cp.pid } : {}) },
      { name: 'Dante 1.4.2', key: 'dante', mode: 'socks5', proxyPort: ports.dante },
    ];
    // A forwarder has one upstream per port: the sink port for bulk, the origin port for conn/s.
    const haTargets = (port: (h: HaproxyRows) => number): PathTarget[] => ha.map((h) => ({ name: h.name, key: h.key, mode: 'forward', proxyPort: port(h), ...(h.daemon.cp.pid !== undefined ? { cpuPid: h.daemon.cp.pid } : {}) }));
    if (g) {
      targets.push({ name: 'imgate SOCKS5', key: 'imgate', mode: 'socks5', proxyPort: g.ports.socks5, ...(g.cp.pid !== undefined ? { cpuPid: g.cp.pid } : {}) });
      targets.push({ name: 'imgate HTTP CONNECT', key: 'imgate-http', mode: 'http', proxyPort: g.ports.http });
    }
    if (doorsOnly) targets.push({ name: 'imgate SOCKS5, second process (ICAP off, no prior load)', key: 'imgate-doors-only', mode: 'socks5', proxyPort: doorsOnly.ports.socks5 });

    const rss = (when: string): void => { if (g) results.imgate.rssKiB![when] = rssKiB(g.cp.pid); };
    if (g) results.imgate.rssKiB = {};
    rss('start');
    if (cfg.only.has('icap')) { results.icap = await runIcap(cfg, ports.cicap, g && g.ports.icap ? g.ports.icap : null); rss('after icap'); }
    if (cfg.only.has('bulk')) { results.bulk = await runBulk(cfg, [...targets, ...haTargets((h) => h.sink)], ports.sink); rss('after bulk'); }
    if (cfg.only.has('conn')) { results.conn = await runConn(cfg, [...targets, ...haTargets((h) => h.origin)], ports.origin); rss('after conn'); }
    if (haveIperf) {
      const paths: IperfPath[] = [{ name: 'direct (no proxy)', key: 'direct', via: 'direct', port: ports.iperf }];
      const pc = proxychainsAvailable();
      if (pc) paths.push({ name: 'bare Node pipe relay (proxychains4)', key: 'pipe', via: 'socks5', port: ports.pipe }, { name: 'Dante 1.4.2 (proxychains4)', key: 'dante', via: 'socks5', port: ports.dante });
      for (const h of ha) if (h.iperf !== undefined) paths.push({ name: h.name, key: h.key, via: 'forward', port: h.iperf });
      if (pc && g) paths.push({ name: 'imgate SOCKS5 (proxychains4)', key: 'imgate', via: 'socks5', port: g.ports.socks5 });
      results.iperf = await runIperf(tmp, paths, ports.iperf, Number(process.env.BENCH_IPERF_SECS ?? 3), cfg.bulkRounds);
    }
    if (cfg.only.has('profile') && cfg.profile && g) results.profiles = await runProfiles(cfg, tmp, ports.sink, ports.origin);
    // IM / web IM / memory sections (scenarios/im-section.ts): after the
    // existing ones so their figures are unchanged by the new work.
    if (g) { await runImSection(cfg, tmp, g, ports.cicap, ports.pipe, results); rss('after im/webim'); }
  } finally {
    await stopAll();
  }

  results.machine.loadEnd = os.loadavg();
  results.durationSecs = (Date.now() - t0) / 1000;
  const resultsDir = path.join(cfg.repoRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(cfg.repoRoot, 'docs', 'benchmarks.md'), renderMarkdown(results));
  progress(`wrote docs/benchmarks.md and bench/results/latest.json in ${results.durationSecs.toFixed(0)} s`);
  if (process.env.BENCH_KEEP_TMP !== '1') rmSync(tmp, { recursive: true, force: true });

  const out = [`imgate bench, ${results.startedAt}, ${results.machine.cpus} cores, Node ${results.machine.node}`, '', headlineTable(results)];
  if (results.icap.length) out.push('', icapTable(results));
  if (results.bulk.length) out.push('', bulkTable(results));
  if (results.conn.length) out.push('', connTable(results));
  if (results.iperf?.length) out.push('', iperfTable(results));
  out.push(...imStdout(results));
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch(async (e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  await stopAll();
  process.exit(1);
});
