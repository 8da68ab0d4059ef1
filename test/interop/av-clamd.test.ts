// AV scanning against a real clamd 1.4.6 (custom signatures only, peers.md §3):
// verdicts over TCP and the unix socket, a 30 MiB file streamed with bounded
// memory, the verdict cache, and the circuit breaker while clamd is killed and
// restarted. The ICAP chaining case (real c-icap virus_scan) is in the last block.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Metrics } from '../../src/admin/metrics';
import { AvServiceImpl, avSchema, createAvService, type AvConfig, type AvService, type ScanResult } from '../../src/av';
import { createLogger } from '../../src/log';
import { AV_MARKER, AV_SIGNATURE, Clamd } from './helpers/clamd';
import { CIcapAv } from './helpers/cicap-av';
import { metricValue } from './helpers/metrics';
import { sleep } from './helpers/ports';
import { makeTempDir, removeTempDir } from './helpers/tmpdir';

const logger = createLogger('silent');

function cfg(raw: Record<string, unknown>): AvConfig {
  return avSchema.parse(raw);
}

/** 30 MiB of filler then the marker, generated lazily (the test never holds it whole). */
function bigStream(totalBytes: number, tail: string): Readable {
  const block = Buffer.alloc(65_536, 'imgate filler line, nothing to see here\n');
  const tailBuf = Buffer.from(tail);
  let left = totalBytes - tailBuf.length;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(tailBuf);
        this.push(null);
        return;
      }
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** A real gc() even without --expose-gc, so memory samples show live data, not garbage not yet collected. */
function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function signatureOf(r: ScanResult): string {
  return r.outcome.status === 'infected' ? r.outcome.signature : `(${r.outcome.status})`;
}

let clamd: Clamd;
let dataDir: string;

beforeAll(async () => {
  clamd = await Clamd.start();
  dataDir = makeTempDir('av-data');
});

afterAll(async () => {
  await clamd?.cleanup();
  if (dataDir) removeTempDir(dataDir);
});

describe('clamd scanner (real clamd, custom .ndb signature)', () => {
  let av: AvService;
  let metrics: Metrics;

  beforeAll(() => {
    metrics = new Metrics({ defaultMetrics: false });
    av = createAvService(
      cfg({
        scanners: [
          { name: 'clamd-tcp', type: 'clamd', port: clamd.port },
          { name: 'clamd-unix', type: 'clamd', socket: clamd.socketPath },
        ],
        spool_threshold_bytes: 1_048_576,
      }),
      { logger, metrics, dataDir },
    );
  });

  afterAll(async () => {
    await av?.close();
  });

  test('no scanners: disabled, clean without scanning', async () => {
    const off = createAvService(cfg({}), { logger, dataDir });
    expect(off.enabled).toBe(false);
    const r = await off.scan(Readable.from([Buffer.from(`x ${AV_MARKER} y`)]), {});
    expect(r.outcome).toEqual({ status: 'clean' });
    expect(r.size).toBe(AV_MARKER.length + 4);
    await off.close();
  });

  test('clean content is clean; the marker is infected with the signature name (TCP and unix socket)', async () => {
    expect(av.enabled).toBe(true);
    const clean = await av.scan(Buffer.from('hello, a perfectly clean attachment\n'), { name: 'clean.txt' });
    expect(clean.outcome).toEqual({ status: 'clean' });
    expect(clean.scanner).toBe('clamd-tcp,clamd-unix');
    expect(clean.cached).toBe(false);

    const bad = await av.scan(Readable.from([Buffer.from('prefix '), Buffer.from(AV_MARKER), Buffer.from(' suffix')]), { name: 'bad.txt' });
    expect(bad.outcome.status).toBe('infected');
    expect(signatureOf(bad).startsWith(AV_SIGNATURE)).toBe(true);
    expect(signatureOf(bad)).toBe(`${AV_SIGNATURE}.UNOFFICIAL`);

    // Each transport on its own gives the same verdict.
    const versions = av.signatureVersions();
    expect(versions).toHaveLength(2);
    for (const v of versions) expect(v).toMatch(/^clamd-(tcp|unix)=ClamAV 1\.\d+\.\d+/);
    expect(metricValue(await metrics.registry.metrics(), 'imgate_av_scans_total', { scanner: 'clamd-unix', status: 'infected' })).toBe(1);
    expect(metricValue(await metrics.registry.metrics(), 'imgate_av_scans_total', { scanner: 'clamd-tcp', status: 'clean' })).toBe(1);
  });

  test('30 MiB with the marker at its end: infected, streamed with bounded memory; again: cached and much faster', async () => {
    const size = 30 * 1024 * 1024;
    const gc = gcFunction();
    gc();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakBuffers = base.arrayBuffers;
    let sawSpool = false;
    const prof: string[] = [];
    const t1 = performance.now();
    const sampler = setInterval(() => {
      gc();
      // V8 frees ArrayBuffer backing stores on a background thread: read a moment after the gc.
      setTimeout(() => {
        const m = process.memoryUsage();
        peakRss = Math.max(peakRss, m.rss);
        peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
        if (process.env.AV_DEBUG) prof.push(`${(performance.now() - t1).toFixed(0)}:${((m.arrayBuffers - base.arrayBuffers) / 1048576).toFixed(1)}`);
        const dir = path.join(dataDir, 'av-spool');
        if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) sawSpool = true;
      }, 15);
    }, 100);
    const first = await av.scan(bigStream(size, AV_MARKER), { name: 'big.bin' });
    const d1 = performance.now() - t1;
    clearInterval(sampler);
    if (process.env.AV_DEBUG) console.log(prof.join(' '));

    expect(first.size).toBe(size);
    expect(first.outcome.status).toBe('infected');
    expect(signatureOf(first).startsWith(AV_SIGNATURE)).toBe(true);
    expect(first.cached).toBe(false);
    expect(sawSpool).toBe(true);
    // Bounded: Buffer memory (sampled after a gc) stays well below the 30 MiB
    // content: spool threshold 1 MiB + stream buffers of 2 parallel scans.
    // V8 sweeps ArrayBuffers concurrently, so a sample may still count a few
    // MiB of garbage; holding the file would show >= 30.
    const bufGrowth = (peakBuffers - base.arrayBuffers) / 1024 / 1024;
    const rssGrowth = (peakRss - base.rss) / 1024 / 1024;
    expect(bufGrowth).toBeLessThan(16);

    const t2 = performance.now();
    const again = await av.scan(bigStream(size, AV_MARKER), { name: 'big.bin' });
    const d2 = performance.now() - t2;
    expect(again.cached).toBe(true);
    expect(again.outcome).toEqual(first.outcome);
    expect(again.sha256).toBe(first.sha256);
    // The cached path still reads and hashes the 30 MiB (spooled), but no clamd round trip.
    expect(d2).toBeLessThan(d1 * 0.6);
    expect(metricValue(await metrics.registry.metrics(), 'imgate_av_cache_hits_total', {})).toBe(2);
    // Spool files are removed after each scan.
    expect(fs.readdirSync(path.join(dataDir, 'av-spool'))).toEqual([]);
    // eslint-disable-next-line no-console
    console.log(
      `30 MiB scan: first ${d1.toFixed(0)} ms (clamd, 2 scanners), cached ${d2.toFixed(0)} ms; peak arrayBuffers +${bufGrowth.toFixed(1)} MiB, rss +${rssGrowth.toFixed(1)} MiB`,
    );
  });

  test('over max_scan_bytes: the configured verdict, never scanned', async () => {
    const small = createAvService(cfg({ scanners: [{ name: 'c', type: 'clamd', port: clamd.port }], max_scan_bytes: 1000, over_limit: 'block' }), { logger, dataDir });
    const r = await small.scan(bigStream(5000, AV_MARKER), {});
    expect(r.outcome).toMatchObject({ status: 'error', failOpen: false });
    expect(r.size).toBe(5000);
    const declared = await small.scan(Buffer.alloc(10), { size: 5000 });
    expect(declared.outcome).toMatchObject({ status: 'error', failOpen: false });
    await small.close();
    const allow = createAvService(cfg({ scanners: [{ name: 'c', type: 'clamd', port: clamd.port }], max_scan_bytes: 1000, over_limit: 'allow' }), { logger, dataDir });
    expect((await allow.scan(Buffer.alloc(2000), {})).outcome).toMatchObject({ status: 'error', failOpen: true });
    await allow.close();
  });
});

describe('circuit breaker: clamd killed during a loop of scans, then restarted', () => {
  test('opens; fail-closed -> error failOpen false, fail-open -> failOpen true; metrics show it; closes after restart', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const breaker = { timeout_ms: 3000, error_threshold_percentage: 50, reset_timeout_ms: 1000, volume_threshold: 2, rolling_window_ms: 10_000 };
    const closed = createAvService(cfg({ scanners: [{ name: 'strict', type: 'clamd', port: clamd.port, fail: 'closed', breaker }] }), { logger, metrics, dataDir });
    const open = createAvService(cfg({ scanners: [{ name: 'lenient', type: 'clamd', port: clamd.port, fail: 'open', breaker }] }), { logger, metrics, dataDir });
    const both = [closed, open];
    let i = 0;
    // Unique content each time so the cache never answers.
    const scanBoth = async (infected = false): Promise<ScanResult[]> => {
      i += 1;
      const body = Buffer.from(`loop ${i} ${Date.now()} ${infected ? AV_MARKER : 'clean'}\n`);
      return Promise.all(both.map((s) => s.scan(body, { conn: `loop-${i}` })));
    };
    const text = (): Promise<string> => metrics.registry.metrics();

    try {
      for (let k = 0; k < 5; k++) {
        const [a, b] = await scanBoth();
        expect(a?.outcome).toEqual({ status: 'clean' });
        expect(b?.outcome).toEqual({ status: 'clean' });
      }
      await clamd.kill();
      const seen: ScanResult[][] = [];
      const t0 = Date.now();
      while (Date.now() - t0 < 10_000) {
        const r = await scanBoth();
        seen.push(r);
        if (closed.health()[0]?.state === 'open' && open.health()[0]?.state === 'open') break;
        await sleep(20);
      }
      expect(closed.health()[0]).toMatchObject({ name: 'strict', state: 'open', reachable: false, required: true });
      expect(open.health()[0]).toMatchObject({ name: 'lenient', state: 'open', reachable: false });
      // Every scan while clamd is down is an error with the operator's choice.
      for (const [a, b] of seen) {
        expect(a?.outcome).toMatchObject({ status: 'error', failOpen: false });
        expect(b?.outcome).toMatchObject({ status: 'error', failOpen: true });
      }
      // With the breaker open, scans fail fast without touching the socket.
      const [fa, fb] = await scanBoth();
      expect(fa?.outcome).toMatchObject({ status: 'error', failOpen: false, reason: expect.stringContaining('breaker open') });
      expect(fb?.outcome).toMatchObject({ status: 'error', failOpen: true, reason: expect.stringContaining('breaker open') });
      const m = await text();
      expect(metricValue(m, 'imgate_av_breaker_state', { scanner: 'strict' })).toBe(2);
      expect(metricValue(m, 'imgate_av_breaker_state', { scanner: 'lenient' })).toBe(2);
      expect(metricValue(m, 'imgate_av_scans_total', { scanner: 'strict', status: 'error' })).toBeGreaterThanOrEqual(2);
      expect(metricValue(m, 'imgate_av_scans_total', { scanner: 'strict', status: 'breaker_open' })).toBeGreaterThanOrEqual(1);

      await clamd.restart();
      const t1 = Date.now();
      let last: ScanResult[] = [];
      while (Date.now() - t1 < 10_000) {
        last = await scanBoth();
        if (last.every((r) => r.outcome.status === 'clean')) break;
        await sleep(100);
      }
      expect(last.map((r) => r.outcome)).toEqual([{ status: 'clean' }, { status: 'clean' }]);
      expect(closed.health()[0]?.state).toBe('closed');
      expect(open.health()[0]?.state).toBe('closed');
      const inf = await scanBoth(true);
      for (const r of inf) expect(signatureOf(r).startsWith(AV_SIGNATURE)).toBe(true);
      const m2 = await text();
      expect(metricValue(m2, 'imgate_av_breaker_state', { scanner: 'strict' })).toBe(0);
      expect(metricValue(m2, 'imgate_av_breaker_state', { scanner: 'lenient' })).toBe(0);
    } finally {
      await Promise.all(both.map((s) => s.close()));
      if (!clamd.daemon.alive()) await clamd.restart();
    }
  });
});

describe('ICAP chaining: imgate as an ICAP client of real c-icap virus_scan (clamd_mod -> the test clamd)', () => {
  let cicap: CIcapAv;
  let av: AvService;
  const metrics = new Metrics({ defaultMetrics: false });

  beforeAll(async () => {
    cicap = await CIcapAv.startAv(clamd.socketPath);
    av = createAvService(cfg({ scanners: [{ name: 'cicap', type: 'icap', url: cicap.avscanUri, breaker: { timeout_ms: 10_000 } }] }), {
      logger,
      metrics,
      dataDir,
    });
  });

  afterAll(async () => {
    await av?.close();
    await cicap?.cleanup();
  });

  test('clean -> 204 clean; marker -> infected with the clamd signature; ISTag is the version', async () => {
    const clean = await av.scan(Buffer.from('a clean document for c-icap\n'.repeat(50)), { name: 'doc.txt' });
    expect(clean.outcome).toEqual({ status: 'clean' });
    const bad = await av.scan(Readable.from([Buffer.from('text before\n'.repeat(100)), Buffer.from(`${AV_MARKER}\n`)]), { name: 'bad.txt' });
    if (bad.outcome.status !== 'infected') throw new Error(`expected infected, got ${JSON.stringify(bad.outcome)}\n${cicap.serverLog.slice(-3000)}`);
    expect(bad.outcome.signature.startsWith(AV_SIGNATURE)).toBe(true);
    // A larger clean file (spooled, chunked over ICAP) stays clean.
    const big = await av.scan(bigStream(3 * 1024 * 1024, 'end\n'), { name: 'big.txt' });
    expect(big.outcome).toEqual({ status: 'clean' });
    await (av as AvServiceImpl).refreshVersions();
    expect(av.signatureVersions()[0]).toMatch(new RegExp(`^cicap=icap ${cicap.avscanUri.replace(/[/.]/g, '\\$&')} "?\\S+`));
    expect(metricValue(await metrics.registry.metrics(), 'imgate_av_scans_total', { scanner: 'cicap', status: 'infected' })).toBe(1);
  });
});
