// AV scan path cost and verdict cache (issue 5 "Measured"): the same files
// scanned through imgate's AvService (hash + breaker + clamd INSTREAM) and
// through a bare INSTREAM client, interleaved in the same run; then a set of
// files repeated: hit ratio and the cost of a cached verdict against a scan.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { avSchema, createAvService } from '../../src/av';
import { freePort } from '../lib/ports';
import { stopDaemon } from '../lib/proc';
import { median } from '../lib/stats';
import { instream, startClamd } from './av-clamd';

export interface AvScanRow {
  bytes: number;
  /** Median ms per scan through the AvService (cache off), fresh content. */
  serviceMs: number;
  /** Median ms per scan with the bare INSTREAM client. */
  directMs: number;
  /** The same, rescanning bytes clamd just passed (its clean cache: transfer cost only). */
  serviceWarmMs: number;
  directWarmMs: number;
  samples: number;
}

export interface AvCacheResult {
  files: number;
  bytes: number;
  rounds: number;
  /** Hits / lookups over every round after the first. */
  hitRatio: number;
  /** Median ms of a first (missed) scan and of a cached verdict. */
  missMs: number;
  hitMs: number;
}

export interface AvBenchResult {
  clamdVersion: string;
  scan: AvScanRow[];
  cache: AvCacheResult;
}

export interface AvBenchOptions {
  sizes?: number[];
  samples?: number;
  cacheFiles?: number;
  cacheRounds?: number;
}

export async function runAvBench(opts: AvBenchOptions = {}): Promise<AvBenchResult> {
  const sizes = opts.sizes ?? [64 * 1024, 1024 * 1024, 8 * 1024 * 1024];
  const samples = opts.samples ?? 15;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgate-bench-av-'));
  const port = await freePort();
  const clamd = await startClamd(tmp, port);
  const logger = pino({ level: 'silent' });
  const cfg = (maxEntries: number) =>
    avSchema.parse({ scanners: [{ name: 'clamd', type: 'clamd', port, breaker: { timeout_ms: 60_000 } }], cache: { max_entries: maxEntries }, max_scan_bytes: 200 * 1024 * 1024 });
  const noCache = createAvService(cfg(0), { logger, dataDir: tmp });
  const cached = createAvService(cfg(10_000), { logger, dataDir: tmp });
  try {
    const clamdVersion = (await new Promise<string>((r) => setTimeout(() => r(noCache.signatureVersions()[0] ?? 'unknown'), 300))).replace(/^clamd=/, '');
    const scan: AvScanRow[] = [];
    for (const bytes of sizes) {
      const svc: number[] = [];
      const direct: number[] = [];
      const svcWarm: number[] = [];
      const directWarm: number[] = [];
      // libclamav caches the MD5 of every clean file it scanned: the second
      // scan of the same bytes skips the engine. So each path gets its own
      // fresh content (cold: a real scan), the order alternates so both see
      // the same machine state, and a rescan of the same bytes (warm: clamd's
      // cache hit, i.e. transfer only) shows the pure transport overhead.
      for (let i = 0; i < samples + 2; i++) {
        const viaService = async (file: Buffer): Promise<number> => {
          const t = performance.now();
          const r = await noCache.scan(file, { name: 'bench.bin' });
          const d = performance.now() - t;
          if (r.outcome.status !== 'clean') throw new Error(`AV bench: unexpected outcome ${JSON.stringify(r.outcome)}`);
          return d;
        };
        const viaDirect = async (file: Buffer): Promise<number> => {
          const t = performance.now();
          const reply = await instream(port, file);
          const d = performance.now() - t;
          if (!reply.endsWith('OK')) throw new Error(`AV bench: clamd said ${reply}`);
          return d;
        };
        const fa = randomBytes(bytes);
        const fb = randomBytes(bytes);
        let a: number;
        let b: number;
        if (i % 2 === 0) {
          a = await viaService(fa);
          b = await viaDirect(fb);
        } else {
          b = await viaDirect(fb);
          a = await viaService(fa);
        }
        const aw = await viaService(fa);
        const bw = await viaDirect(fb);
        if (i >= 2) {
          svc.push(a);
          direct.push(b);
          svcWarm.push(aw);
          directWarm.push(bw);
        }
      }
      scan.push({ bytes, serviceMs: median(svc), directMs: median(direct), serviceWarmMs: median(svcWarm), directWarmMs: median(directWarm), samples });
    }
    const files = opts.cacheFiles ?? 20;
    const rounds = opts.cacheRounds ?? 5;
    const fileBytes = 1024 * 1024;
    const set = Array.from({ length: files }, () => randomBytes(fileBytes));
    const miss: number[] = [];
    const hit: number[] = [];
    let hits = 0;
    let lookups = 0;
    for (let round = 0; round < rounds; round++) {
      for (const f of set) {
        const r = await cached.scan(f, { name: 'repeat.bin' });
        if (round === 0) miss.push(r.durationMs);
        else {
          lookups++;
          if (r.cached) {
            hits++;
            hit.push(r.durationMs);
          }
        }
      }
    }
    return { clamdVersion, scan, cache: { files, bytes: fileBytes, rounds, hitRatio: lookups === 0 ? 0 : hits / lookups, missMs: median(miss), hitMs: hit.length ? median(hit) : NaN } };
  } finally {
    await noCache.close();
    await cached.close();
    await stopDaemon(clamd);
    rmSync(tmp, { recursive: true, force: true });
  }
}
