// A/B of two imgate builds under the XMPP load (performance work on the
// tunnel path): the same Prosody, a direct baseline, gateway A (another
// checkout, e.g. a copy of the old build) and gateway B, and optionally the
// bare pipe relay, in an order that rotates every round. Besides msg/s it
// reads /proc around every run (scenarios/xmpp-cpu.ts): CPU microseconds per
// message of each gateway (all threads, main thread, its user part), the
// main thread's read/write syscalls and run-queue wait per message, and
// Prosody's and the clients' CPU per message. CPU per message is what a
// change to the per-stanza work moves, and it stays readable when other load
// on the machine makes rates noisy.
//   npx tsc -p tsconfig.json && node dist/bench/scenarios/xmpp-ab.js A_ROOT [B_ROOT|.] [secs] [rounds] [latency|rate]
// A root is a directory with bin/, conf/, dist/ and node_modules/ (bin/ must
// be a copy: Node resolves a symlinked entry script to its target's dist/).
// B defaults to this checkout.
// BENCH_XMPP_NO_AUDIT=1|a|b: both gateways, or only A or B, with the record
// store off (set BENCH_IMGATE_LOG=warn too, or allowed events are logged at
// info instead). BENCH_XMPP_PIPE=1: the bare pipe relay as a fourth path.
// BENCH_XMPP_THREADS=1: CPU per message by thread after each run.
import path from 'node:path';
import { progress } from '../lib/log';
import { freePort } from '../lib/ports';
import { runStandalone } from '../lib/standalone';
import { median } from '../lib/stats';
import type { Target } from '../load/handshake';
import { startImgate } from '../peers/imgate';
import { startPipeRelay } from '../peers/node-procs';
import { XMPP_BENCH_USERS, once, type XmppRun } from './xmpp';
import { cpuMark, perMessage, selfMark, threadMarks, type CpuMark } from './xmpp-cpu';
import { startBenchProsody } from './xmpp-prosody';

interface Sample {
  run: XmppRun;
  relay: CpuMark;
  prosody: CpuMark;
  clients: CpuMark;
}

interface Path {
  name: string;
  via: Target;
  /** The relay process whose CPU is read (0 for direct). */
  pid: number;
  samples: Sample[];
}

const NO_AUDIT = { extraYaml: 'audit: { enabled: false }\n' };

async function measured(p: Path, prosodyPid: number, mode: 'latency' | 'rate', secs: number, pad: string): Promise<Sample> {
  const tb = p.pid && process.env.BENCH_XMPP_THREADS === '1' ? threadMarks(p.pid) : null;
  const rb = cpuMark(p.pid);
  const pb = cpuMark(prosodyPid);
  const cb = selfMark();
  const run = await once(mode, p.via, { secs, rounds: 1, bodyBytes: 100 }, pad);
  const s: Sample = {
    run,
    relay: perMessage(rb, cpuMark(p.pid), run.msgs),
    prosody: perMessage(pb, cpuMark(prosodyPid), run.msgs),
    clients: perMessage(cb, selfMark(), run.msgs),
  };
  if (tb !== null) {
    const ta = threadMarks(p.pid);
    const parts = [...ta].map(([k, v]) => `${k} ${((v - (tb.get(k) ?? 0)) / Math.max(1, run.msgs)).toFixed(1)}`);
    progress(`${p.name} us/msg by thread: ${parts.filter((x) => !x.endsWith(' 0.0')).join(', ')}`);
  }
  return s;
}

function show(s: Sample, relay: boolean): string {
  const r = s.run;
  const lat = r.p99_us !== undefined ? ` p50 ${r.p50_us?.toFixed(0)} p99 ${r.p99_us.toFixed(0)} us` : '';
  const c = s.relay;
  const gw = relay ? ` cpu ${c.all.toFixed(1)} us/msg (main ${c.main.toFixed(1)}, user ${c.mainUser.toFixed(1)}, r/w ${c.reads.toFixed(2)}/${c.writes.toFixed(2)}, wait ${c.mainWait.toFixed(1)})` : '';
  return `${r.rate.toFixed(0)} msg/s${r.stalls ? ` (${r.stalls} stalls > 10 ms)` : ''}${lat}${gw}; prosody ${s.prosody.all.toFixed(1)} (wait ${s.prosody.mainWait.toFixed(1)}), clients ${s.clients.all.toFixed(1)} us/msg`;
}

runStandalone('xmpp-ab', async (tmp) => {
  const aRoot = path.resolve(process.argv[2] ?? '');
  const bArg = process.argv[3] ?? '.';
  const secs = Number(process.argv[4] ?? 4);
  const rounds = Number(process.argv[5] ?? 3);
  const mode = process.argv[6] === 'latency' ? 'latency' : 'rate';
  const bRoot = bArg === '.' ? path.resolve(__dirname, '..', '..', '..') : path.resolve(bArg);
  const noAudit = process.env.BENCH_XMPP_NO_AUDIT ?? '';
  const prosody = await startBenchProsody(tmp, XMPP_BENCH_USERS);
  const prosodyPid = prosody.cp.pid ?? 0;
  const a = await startImgate(aRoot, tmp, 'imgate-a', [], false, 0, noAudit === '1' || noAudit === 'a' ? NO_AUDIT : {});
  const b = await startImgate(bRoot, tmp, 'imgate-b', [], false, 0, noAudit === '1' || noAudit === 'b' ? NO_AUDIT : {});
  const dst = prosody.c2sPort;
  const paths: Path[] = [
    { name: 'direct', via: { mode: 'direct', proxyPort: 0, dstPort: dst }, pid: 0, samples: [] },
    { name: 'A', via: { mode: 'socks5', proxyPort: a.ports.socks5, dstPort: dst }, pid: a.cp.pid ?? 0, samples: [] },
    { name: 'B', via: { mode: 'socks5', proxyPort: b.ports.socks5, dstPort: dst }, pid: b.cp.pid ?? 0, samples: [] },
  ];
  if (process.env.BENCH_XMPP_PIPE === '1') {
    const port = await freePort();
    const relay = await startPipeRelay(tmp, port);
    paths.push({ name: 'pipe', via: { mode: 'socks5', proxyPort: port, dstPort: dst }, pid: relay.cp.pid ?? 0, samples: [] });
  }
  progress(`xmpp A/B (${mode}): A ${aRoot}, B ${bRoot}${noAudit ? `, record store off: ${noAudit}` : ''}`);
  const pad = 'x'.repeat(92);
  for (const p of paths) await once(mode, p.via, { secs: 1.5, rounds: 1, bodyBytes: 100 }, pad); // warm-up
  for (let i = 0; i < rounds; i++) {
    // Rotate the order each round, so no path always follows the same one.
    const line: string[] = [];
    for (let k = 0; k < paths.length; k++) {
      const p = paths[(k + i) % paths.length] as Path;
      const s = await measured(p, prosodyPid, mode, secs, pad);
      p.samples.push(s);
      line.push(`${p.name} ${show(s, p.pid !== 0)}`);
    }
    progress(`${mode} round ${i + 1}: ${line.join(' | ')}`);
  }
  const direct = (paths[0] as Path).samples;
  const med = (xs: Sample[], f: (s: Sample) => number): number => median(xs.map(f));
  const out: Record<string, object> = {};
  for (const p of paths) {
    const xs = p.samples;
    out[p.name] = {
      rate: med(xs, (s) => s.run.rate),
      vsDirect: med(xs, (s) => s.run.rate) / med(direct, (s) => s.run.rate),
      // Ratio to the direct run of the same round: damps load that comes and goes.
      vsDirectPerRound: median(xs.map((s, k) => s.run.rate / ((direct[k] as Sample).run.rate))),
      p50_us: med(xs, (s) => s.run.p50_us ?? NaN),
      p99_us: med(xs, (s) => s.run.p99_us ?? NaN),
      cpu_us_per_msg: med(xs, (s) => s.relay.all),
      main_cpu_us_per_msg: med(xs, (s) => s.relay.main),
      main_user_cpu_us_per_msg: med(xs, (s) => s.relay.mainUser),
      main_wait_us_per_msg: med(xs, (s) => s.relay.mainWait),
      main_reads_per_msg: med(xs, (s) => s.relay.reads),
      main_writes_per_msg: med(xs, (s) => s.relay.writes),
      prosody_cpu_us_per_msg: med(xs, (s) => s.prosody.all),
      prosody_wait_us_per_msg: med(xs, (s) => s.prosody.mainWait),
      clients_cpu_us_per_msg: med(xs, (s) => s.clients.all),
    };
  }
  console.log(JSON.stringify({ mode, secs, rounds, noAudit, ...out }, null, 1));
});
