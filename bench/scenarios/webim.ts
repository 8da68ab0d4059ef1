// Web IM through ICAP: REQMOD of a Mattermost post (recognised by
// conf/webim.yaml, body read, policy evaluated, allowed) at imgate /reqmod
// vs c-icap's echo service, same generator (bench/load/icap-reqload.ts),
// same connections and duration, alternating rounds, medians. imgate's
// im_events counter is read around each run to prove the requests really
// were recognised as IM (not just passed through).
import path from 'node:path';
import { lastJson, runToEnd } from '../lib/proc';
import { metric, scrape } from '../lib/metrics';
import { progress } from '../lib/log';
import { median, ratio } from '../lib/stats';
import type { BenchConfig } from '../lib/config';

export interface WebimRun { rps: number; requests: number; errors: number; p50_ms: number; p99_ms: number; statuses: Record<string, number>; imEvents?: number }

export interface WebimSide { runs: WebimRun[]; rps: number; p50_ms: number; p99_ms: number }

export interface WebimRow { size: number; mode: '200' | '204'; cicap: WebimSide; imgate: WebimSide; ratio: number; eventsPerRequest: number }

const GEN = path.resolve(__dirname, '..', 'load', 'icap-reqload.js');

async function reqload(cfg: BenchConfig, port: number, service: string, size: number, mode: string, secs: number): Promise<WebimRun> {
  const args = [GEN, '127.0.0.1', String(port), service, String(cfg.icapConns), String(secs), String(size), mode];
  const r = await runToEnd(process.execPath, args, secs * 1000 + 15000);
  const j = lastJson<{ rps: number; requests: number; errors: number; p50_ms?: string; p99_ms?: string; statuses: Record<string, number> }>(r.stdout, `icap-reqload ${service}:${port}`);
  return { rps: j.rps, requests: j.requests, errors: j.errors, statuses: j.statuses, p50_ms: Number(j.p50_ms ?? NaN), p99_ms: Number(j.p99_ms ?? NaN) };
}

async function imEvents(adminPort: number): Promise<number> {
  return metric(await scrape(adminPort), 'imgate_im_events_total');
}

const side = (runs: WebimRun[]): WebimSide => ({ runs, rps: median(runs.map((r) => r.rps)), p50_ms: median(runs.map((r) => r.p50_ms)), p99_ms: median(runs.map((r) => r.p99_ms)) });

export async function runWebim(cfg: BenchConfig, cicapPort: number, imgatePort: number, adminPort: number): Promise<WebimRow[]> {
  // Warm-up, discarded, both servers alike.
  await reqload(cfg, cicapPort, 'echo', 1024, '200', 2);
  await reqload(cfg, imgatePort, 'reqmod', 1024, '200', 2);
  progress('webim warm-up done (2 s each, not recorded)');
  const rows: WebimRow[] = [];
  for (const size of [1024, 65536]) {
    for (const mode of ['200', '204'] as const) {
      const c: WebimRun[] = [];
      const g: WebimRun[] = [];
      for (let i = 0; i < cfg.webimRounds; i++) {
        c.push(await reqload(cfg, cicapPort, 'echo', size, mode, cfg.webimSecs));
        const before = await imEvents(adminPort);
        const run = await reqload(cfg, imgatePort, 'reqmod', size, mode, cfg.webimSecs);
        // Requests still in flight at the generator's stop may add a few events.
        run.imEvents = (await imEvents(adminPort)) - before;
        g.push(run);
        progress(`webim ${size}B mode ${mode} round ${i + 1}: c-icap ${c[i]!.rps} req/s ${JSON.stringify(c[i]!.statuses)}; imgate ${run.rps} req/s ${JSON.stringify(run.statuses)} im events ${run.imEvents}`);
      }
      const cs = side(c);
      const gs = side(g);
      const reqs = g.reduce((a, r) => a + r.requests, 0);
      rows.push({ size, mode, cicap: cs, imgate: gs, ratio: ratio(gs.rps, cs.rps), eventsPerRequest: g.reduce((a, r) => a + (r.imEvents ?? 0), 0) / (reqs || 1) });
    }
  }
  return rows;
}
