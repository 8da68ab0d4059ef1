// ICAP RESPMOD: c-icap echo vs imgate /respmod (allow path), same generator
// (bench/tools/icapload.mjs, verbatim copy of /work/shared/tools/icapload.mjs),
// same connections and duration, alternating runs, median of each.
import { runToEnd, lastJson } from '../lib/proc';
import { checkIcapEcho } from '../lib/icap-check';
import { progress } from '../lib/log';
import { median, ratio } from '../lib/stats';
import type { BenchConfig } from '../lib/config';

/** One icapload result line, numbers parsed. */
export interface IcapRun { rps: number; requests: number; errors: number; p50_ms: number; p99_ms: number }

export interface IcapSide { runs: IcapRun[]; rps: number; p50_ms: number; p99_ms: number; errors: number; check: string }

export interface IcapRow {
  size: number;
  mode: '200' | '204';
  cicap: IcapSide;
  imgate: IcapSide | null;
  /** imgate rps / c-icap rps (medians). */
  ratio: number;
}

const WARMUP_SECS = 2;

interface RawIcapload { rps: number; requests: number; errors: number; p50_ms?: string; p99_ms?: string }

async function icapload(cfg: BenchConfig, port: number, service: string, size: number, mode: string): Promise<IcapRun> {
  const args = [cfg.icapload, '127.0.0.1', String(port), service, String(cfg.icapConns), String(cfg.icapSecs), String(size), mode];
  const r = await runToEnd(process.execPath, args, cfg.icapSecs * 1000 + 15000);
  const j = lastJson<RawIcapload>(r.stdout, `icapload ${service}:${port}`);
  return { rps: j.rps, requests: j.requests, errors: j.errors, p50_ms: Number(j.p50_ms ?? NaN), p99_ms: Number(j.p99_ms ?? NaN) };
}

function side(runs: IcapRun[], check: string): IcapSide {
  return {
    check,
    runs,
    rps: median(runs.map((r) => r.rps)),
    p50_ms: median(runs.map((r) => r.p50_ms)),
    p99_ms: median(runs.map((r) => r.p99_ms)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  };
}

export async function runIcap(cfg: BenchConfig, cicapPort: number, imgatePort: number | null): Promise<IcapRow[]> {
  const plan: Array<{ size: number; mode: '200' | '204' }> = [
    ...cfg.icapSizes.map((size) => ({ size, mode: '200' as const })),
    { size: 1024, mode: '204' },
  ];
  const rows: IcapRow[] = [];
  // Warm-up, discarded: the first seconds of a fresh Node process run
  // unoptimised code, which would penalise whichever server is Node.
  // Both get the same treatment.
  const warm = { ...cfg, icapSecs: WARMUP_SECS };
  await icapload(warm, cicapPort, 'echo', 1024, '200');
  if (imgatePort !== null) await icapload(warm, imgatePort, 'respmod', 1024, '200');
  progress(`icap warm-up done (${WARMUP_SECS} s each, not recorded)`);
  for (const { size, mode } of plan) {
    const c: IcapRun[] = [];
    const g: IcapRun[] = [];
    // Only time servers that answer correctly (see lib/icap-check.ts).
    const cc = await checkIcapEcho(cicapPort, 'echo', size, mode);
    if (!cc.ok) throw new Error(`c-icap answer check failed (${size} B, mode ${mode}): ${cc.why}`);
    const gc = imgatePort !== null ? await checkIcapEcho(imgatePort, 'respmod', size, mode) : null;
    if (gc && !gc.ok) progress(`imgate answer check FAILED (${size} B, mode ${mode}): ${gc.why}; not timed`);
    const timeImgate = imgatePort !== null && gc !== null && gc.ok;
    for (let i = 0; i < cfg.icapRounds; i++) {
      // Alternate so slow drift in machine load hits both sides alike.
      const a = await icapload(cfg, cicapPort, 'echo', size, mode);
      c.push(a);
      progress(`icap ${size}B mode ${mode} round ${i + 1}: c-icap ${a.rps} req/s p50 ${a.p50_ms} ms`);
      if (timeImgate && imgatePort !== null) {
        const b = await icapload(cfg, imgatePort, 'respmod', size, mode);
        g.push(b);
        progress(`icap ${size}B mode ${mode} round ${i + 1}: imgate ${b.rps} req/s p50 ${b.p50_ms} ms errors ${b.errors}`);
      }
    }
    const cs = side(c, cc.why);
    const gs = gc === null ? null : side(g, gc.ok ? gc.why : `FAILED: ${gc.why}`);
    rows.push({ size, mode, cicap: cs, imgate: gs, ratio: gs && gc?.ok ? ratio(gs.rps, cs.rps) : NaN });
  }
  return rows;
}
