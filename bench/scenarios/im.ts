// IM through the inspecting gateway vs direct, IRC on ngircd: closed-loop
// PRIVMSG delivery latency / messages per second, and bytes/s of a stream
// of long PRIVMSG lines. The sender goes direct, through the bench's bare
// Node pipe relay (what any user-space relay hop costs here), or through
// imgate's SOCKS5 door (inspection on, as shipped); the three alternate
// within each round.
import path from 'node:path';
import { runToEnd, lastJson } from '../lib/proc';
import { progress } from '../lib/log';
import { median } from '../lib/stats';

export interface ImRun { msgs: number; secs: number; rate: number; p50_us?: number; p99_us?: number; mean_us?: number; MBps?: number; error?: string }

export interface ImSide { runs: ImRun[]; rate: number; p50_us: number; p99_us: number; MBps: number }

export interface ImRow {
  protocol: 'irc' | 'xmpp';
  mode: 'latency' | 'bulk';
  lineBytes: number;
  direct: ImSide;
  /** Bare Node SOCKS5 pipe relay: the cost of one relay hop without inspection. */
  pipe: ImSide;
  gateway: ImSide;
}

export interface ImSettings { secs: number; rounds: number; bulkLines: number }

const GEN = path.resolve(__dirname, '..', 'load', 'irc-load.js');
let runNo = 0;

async function ircRun(mode: 'latency' | 'bulk', via: 'direct' | 'socks5', proxyPort: number, ircPort: number, secs: number, count: number, lineBytes: number): Promise<ImRun> {
  // A fresh nick/channel per run so nothing carries over between runs.
  const tag = `${process.pid % 1000}x${++runNo}`;
  const r = await runToEnd(process.execPath, [GEN, mode, via, String(proxyPort), String(ircPort), String(secs), String(count), String(lineBytes), tag], (secs + 40) * 1000);
  const j = lastJson<ImRun & { error?: string }>(r.stdout, `irc-load ${mode} ${via}`);
  if (j.error && !j.msgs) throw new Error(`irc-load ${mode} ${via}: ${j.error}`);
  return j;
}

function side(runs: ImRun[]): ImSide {
  const ok = runs.filter((r) => !r.error);
  return {
    runs,
    rate: median(ok.map((r) => r.rate)),
    p50_us: median(ok.map((r) => r.p50_us ?? NaN)),
    p99_us: median(ok.map((r) => r.p99_us ?? NaN)),
    MBps: median(ok.map((r) => r.MBps ?? NaN)),
  };
}

export async function runIrc(s: ImSettings, ircPort: number, socksPort: number, pipePort: number): Promise<ImRow[]> {
  const rows: ImRow[] = [];
  // Warm-up (not recorded): JIT in imgate's relay and dissector, ngircd caches.
  await ircRun('latency', 'socks5', socksPort, ircPort, 2, 1e6, 100);
  await ircRun('bulk', 'socks5', socksPort, ircPort, 20, Math.min(s.bulkLines, 5000), 480);
  progress('im irc warm-up done (not recorded)');
  const plan: Array<{ mode: 'latency' | 'bulk'; lineBytes: number }> = [{ mode: 'latency', lineBytes: 100 }, { mode: 'bulk', lineBytes: 480 }];
  for (const { mode, lineBytes } of plan) {
    const d: ImRun[] = [];
    const p: ImRun[] = [];
    const g: ImRun[] = [];
    for (let i = 0; i < s.rounds; i++) {
      // Latency runs are time-bounded; bulk runs are count-bounded with a time cap.
      const secs = mode === 'latency' ? s.secs : 30;
      const count = mode === 'latency' ? 1e6 : s.bulkLines;
      const a = await ircRun(mode, 'direct', 0, ircPort, secs, count, lineBytes);
      const c = await ircRun(mode, 'socks5', pipePort, ircPort, secs, count, lineBytes);
      const b = await ircRun(mode, 'socks5', socksPort, ircPort, secs, count, lineBytes);
      d.push(a);
      p.push(c);
      g.push(b);
      const show = (x: ImRun): string => mode === 'latency' ? `${x.rate.toFixed(0)} msg/s p50 ${x.p50_us?.toFixed(0)} us p99 ${x.p99_us?.toFixed(0)} us` : `${x.MBps?.toFixed(1)} MB/s ${x.error ?? ''}`;
      progress(`im irc ${mode} round ${i + 1}: direct ${show(a)}; pipe relay ${show(c)}; imgate ${show(b)}`);
    }
    rows.push({ protocol: 'irc', mode, lineBytes, direct: side(d), pipe: side(p), gateway: side(g) });
  }
  return rows;
}
