// Web IM through ICAP: REQMOD of a Mattermost post (recognised by
// conf/webim.yaml, body read, policy evaluated, allowed) at imgate /reqmod
// vs c-icap's echo service, same generator (bench/load/icap-reqload.ts),
// same connections and duration, alternating rounds, medians. imgate's
// im_events counter is read around each run to prove the requests really
// were recognised as IM (not just passed through). Two imgates take part:
// the main one (the shipped default: every event recorded in the store) and,
// when given, one with the store off, so the inspection path (issue 5's
// target) and the cost of recording it (issue 6's) read apart.
import path from 'node:path';
import { lastJson, runToEnd } from '../lib/proc';
import { metric, scrape } from '../lib/metrics';
import { progress } from '../lib/log';
import { median, ratio } from '../lib/stats';
import type { BenchConfig } from '../lib/config';

export interface WebimRun { rps: number; requests: number; errors: number; p50_ms: number; p99_ms: number; statuses: Record<string, number>; imEvents?: number }

export interface WebimSide { runs: WebimRun[]; rps: number; p50_ms: number; p99_ms: number }

export interface WebimRow {
  size: number;
  mode: '200' | '204';
  cicap: WebimSide;
  /** The main imgate: inspection + recording (shipped default). */
  imgate: WebimSide;
  ratio: number;
  eventsPerRequest: number;
  /** imgate with the store off: inspection only. */
  noStore?: WebimSide;
  ratioNoStore?: number;
  eventsPerRequestNoStore?: number;
}

/** An imgate to measure: its ICAP and admin ports. */
export interface WebimTarget { icap: number; admin: number }

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

async function imgateRun(cfg: BenchConfig, t: WebimTarget, size: number, mode: string): Promise<WebimRun> {
  const before = await imEvents(t.admin);
  const run = await reqload(cfg, t.icap, 'reqmod', size, mode, cfg.webimSecs);
  // Requests still in flight at the generator's stop may add a few events.
  run.imEvents = (await imEvents(t.admin)) - before;
  return run;
}

const perRequest = (runs: WebimRun[]): number => runs.reduce((a, r) => a + (r.imEvents ?? 0), 0) / (runs.reduce((a, r) => a + r.requests, 0) || 1);

export async function runWebim(cfg: BenchConfig, cicapPort: number, main: WebimTarget, noStore?: WebimTarget): Promise<WebimRow[]> {
  // Warm-up, discarded, every server alike.
  await reqload(cfg, cicapPort, 'echo', 1024, '200', 2);
  await reqload(cfg, main.icap, 'reqmod', 1024, '200', 2);
  if (noStore) await reqload(cfg, noStore.icap, 'reqmod', 1024, '200', 2);
  progress('webim warm-up done (2 s each, not recorded)');
  const rows: WebimRow[] = [];
  for (const size of [1024, 65536]) {
    for (const mode of ['200', '204'] as const) {
      const c: WebimRun[] = [];
      const g: WebimRun[] = [];
      const n: WebimRun[] = [];
      for (let i = 0; i < cfg.webimRounds; i++) {
        c.push(await reqload(cfg, cicapPort, 'echo', size, mode, cfg.webimSecs));
        // The two imgates swap order each round, so neither always runs right after c-icap.
        const order = noStore ? (i % 2 === 0 ? ['main', 'nostore'] : ['nostore', 'main']) : ['main'];
        for (const which of order) {
          if (which === 'main') g.push(await imgateRun(cfg, main, size, mode));
          else if (noStore) n.push(await imgateRun(cfg, noStore, size, mode));
        }
        const ns = noStore ? `; store off ${n[i]!.rps} req/s im events ${n[i]!.imEvents}` : '';
        progress(`webim ${size}B mode ${mode} round ${i + 1}: c-icap ${c[i]!.rps} req/s ${JSON.stringify(c[i]!.statuses)}; imgate ${g[i]!.rps} req/s ${JSON.stringify(g[i]!.statuses)} im events ${g[i]!.imEvents}${ns}`);
      }
      const cs = side(c);
      const gs = side(g);
      const row: WebimRow = { size, mode, cicap: cs, imgate: gs, ratio: ratio(gs.rps, cs.rps), eventsPerRequest: perRequest(g) };
      if (noStore) {
        const nsd = side(n);
        row.noStore = nsd;
        row.ratioNoStore = ratio(nsd.rps, cs.rps);
        row.eventsPerRequestNoStore = perRequest(n);
      }
      rows.push(row);
    }
  }
  return rows;
}
