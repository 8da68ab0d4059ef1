// iperf3 rows: the same paths as the bulk table measured with iperf3
// (default 128 KiB writes, one stream, `-t secs`), alternating paths within
// each round; the median is reported. A second, independent sender/receiver
// pair, so a relay ratio does not hinge on the Node bulk client's 1 MiB
// writes being an unusually cheap direct baseline.
import { runToEnd } from '../lib/proc';
import { progress } from '../lib/log';
import { median } from '../lib/stats';
import { proxychainsConf } from '../peers/iperf3';

export interface IperfPath {
  name: string;
  key: string;
  /** direct: the server itself; forward: a plain forwarder's port; socks5: a SOCKS5 proxy (via proxychains4). */
  via: 'direct' | 'forward' | 'socks5';
  port: number;
}
export interface IperfRun { gbps: number; retransmits: number; error?: string }
export interface IperfRow { path: IperfPath; runs: IperfRun[]; gbps: number; secs: number }

interface IperfJson {
  error?: string;
  end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } };
}

async function once(tmp: string, p: IperfPath, serverPort: number, secs: number): Promise<IperfRun> {
  const dst = p.via === 'forward' ? p.port : serverPort;
  const iperf = ['iperf3', '-c', '127.0.0.1', '-p', String(dst), '-t', String(secs), '-J'];
  const [cmd, ...args] = p.via === 'socks5' ? ['proxychains4', '-q', '-f', proxychainsConf(tmp, p.port), ...iperf] : iperf;
  const r = await runToEnd(cmd!, args, secs * 1000 + 20000);
  try {
    const j = JSON.parse(r.stdout) as IperfJson;
    if (j.error) return { gbps: NaN, retransmits: 0, error: j.error };
    const bps = j.end?.sum_received?.bits_per_second;
    if (bps === undefined) return { gbps: NaN, retransmits: 0, error: 'no sum_received in iperf3 JSON' };
    return { gbps: bps / 1e9, retransmits: j.end?.sum_sent?.retransmits ?? 0 };
  } catch (e) {
    return { gbps: NaN, retransmits: 0, error: `${(e as Error).message} (exit ${r.code}) ${r.stderr.slice(-200)}` };
  }
}

export async function runIperf(tmp: string, paths: IperfPath[], serverPort: number, secs: number, rounds: number): Promise<IperfRow[]> {
  const runs = new Map<string, IperfRun[]>(paths.map((p) => [p.key, []]));
  for (let i = 0; i < rounds; i++) {
    for (const p of paths) {
      const r = await once(tmp, p, serverPort, secs);
      runs.get(p.key)!.push(r);
      progress(`iperf3 round ${i + 1} ${p.name}: ${r.error ? `error ${r.error}` : `${r.gbps.toFixed(2)} Gbit/s`}`);
    }
  }
  return paths.map((p) => {
    const rs = runs.get(p.key)!;
    return { path: p, runs: rs, gbps: median(rs.filter((r) => !r.error).map((r) => r.gbps)), secs };
  });
}
