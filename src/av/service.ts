// The AvService: spool + hash once, then every configured scanner (in
// parallel, each behind its breaker, each consulted in the verdict cache
// first). Combined verdict: any infected wins; else an error (fail-closed
// before fail-open); else clean.
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Metrics } from '../admin/metrics';
import type { Logger } from '../log';
import { GuardedScanner, type BreakerState, type GuardedOutcome } from './breaker';
import { VerdictCache } from './cache';
import { ClamdScanner } from './clamd';
import { CommandScanner } from './command';
import { IcapScanner } from './icap-client';
import type { AvConfig, ScannerConfig } from './schema';
import type { Scanner, ScanSource } from './scanner';
import { spool } from './spool';
import type { AvService, ScanOutcome, ScanRequest, ScanResult } from './types';

export interface AvDeps {
  logger: Logger;
  metrics?: Metrics;
  /** Spool files go to <dataDir>/av-spool. */
  dataDir: string;
  /** Called when a scanner's signature version changes (feeds the ISTag). */
  onVersions?: (versions: readonly string[]) => void;
}

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export function buildScanner(cfg: ScannerConfig): Scanner {
  switch (cfg.type) {
    case 'clamd':
      return new ClamdScanner(cfg);
    case 'icap':
      return new IcapScanner(cfg);
    case 'command':
      return new CommandScanner(cfg);
  }
}

/** Consumes a stream without keeping it (disabled service, declared over-limit size). */
async function drain(content: Readable | Buffer): Promise<number> {
  if (Buffer.isBuffer(content)) return content.length;
  let n = 0;
  for await (const c of content) n += (c as Buffer).length;
  return n;
}

export class AvServiceImpl implements AvService {
  readonly enabled: boolean;
  private readonly scanners: GuardedScanner[];
  private readonly cache: VerdictCache;
  private readonly spoolDir: string;
  private readonly timer: NodeJS.Timeout | null;
  private closed = false;

  constructor(
    private readonly cfg: AvConfig,
    private readonly deps: AvDeps,
  ) {
    this.enabled = cfg.scanners.length > 0;
    this.spoolDir = path.resolve(deps.dataDir, 'av-spool');
    this.cache = new VerdictCache(cfg.cache.max_entries, cfg.cache.ttl_seconds);
    const overLimitFailOpen = cfg.over_limit === 'allow';
    this.scanners = cfg.scanners.map(
      (s) =>
        new GuardedScanner(buildScanner(s), s, {
          overLimitFailOpen,
          onState: (name, state) => {
            deps.metrics?.avBreakerState.set({ scanner: name }, STATE_VALUE[state]);
            const log = state === 'open' ? deps.logger.warn.bind(deps.logger) : deps.logger.info.bind(deps.logger);
            log({ scanner: name, breaker: state }, `AV scanner breaker ${state}`);
          },
        }),
    );
    for (const s of this.scanners) deps.metrics?.avBreakerState.set({ scanner: s.name }, 0);
    if (this.enabled) {
      void this.refreshVersions();
      this.timer = setInterval(() => void this.refreshVersions(), cfg.version_refresh_seconds * 1000);
      this.timer.unref();
    } else {
      this.timer = null;
    }
  }

  /** Probes every scanner for its version; tells onVersions when any changed. */
  async refreshVersions(): Promise<boolean> {
    const changed = await Promise.all(this.scanners.map((s) => s.refreshVersion()));
    const any = changed.some(Boolean);
    if (any && !this.closed) {
      this.deps.logger.info({ versions: this.signatureVersions() }, 'AV signature versions');
      this.deps.onVersions?.(this.signatureVersions());
    }
    return any;
  }

  signatureVersions(): readonly string[] {
    return this.scanners.map((s) => `${s.name}=${s.version}`);
  }

  health(): ReturnType<AvService['health']> {
    return this.scanners.map((s) => ({ name: s.name, state: s.state, reachable: s.reachable, required: s.required }));
  }

  async scan(content: Readable | Buffer, req: ScanRequest): Promise<ScanResult> {
    const t0 = performance.now();
    const ms = (): number => performance.now() - t0;
    if (!this.enabled) {
      const size = await drain(content);
      return { outcome: { status: 'clean' }, scanner: 'none', size, cached: false, durationMs: ms() };
    }
    if (req.size !== undefined && req.size > this.cfg.max_scan_bytes) {
      const size = await drain(content);
      return this.overLimit(size, undefined, req, ms());
    }
    const spooled = await spool(content, { thresholdBytes: this.cfg.spool_threshold_bytes, maxBytes: this.cfg.max_scan_bytes, dir: this.spoolDir });
    if (spooled.kind === 'over_limit') return this.overLimit(spooled.size, spooled.sha256, req, ms());
    const src = spooled.source;
    try {
      return await this.scanAll(src, req, t0);
    } finally {
      await src.dispose();
    }
  }

  /** Sizes the ICAP door needs to hold a transfer body itself (src/av/held-scan.ts). */
  get limits(): { spoolThresholdBytes: number; maxScanBytes: number; overLimitAllows: boolean; spoolDir: string } {
    return { spoolThresholdBytes: this.cfg.spool_threshold_bytes, maxScanBytes: this.cfg.max_scan_bytes, overLimitAllows: this.cfg.over_limit === 'allow', spoolDir: this.spoolDir };
  }

  /**
   * How long a caller holding bytes back (tunnel file data) may wait for a
   * verdict once the content ended: the slowest scanner's breaker timeout
   * (the scan is abandoned then) plus slack for spooling; and what to do
   * when it still has none: pass only when every scanner is fail-open.
   */
  get verdictWait(): { ms: number; failOpen: boolean } {
    const list = this.cfg.scanners;
    const slowest = list.reduce((m, s) => Math.max(m, s.breaker.timeout_ms), 0);
    return { ms: slowest + 5_000, failOpen: list.length > 0 && list.every((s) => s.fail === 'open') };
  }

  /** Scans content the caller already holds and hashed (no second spool); the caller disposes it. */
  async scanSource(src: ScanSource, req: ScanRequest): Promise<ScanResult> {
    const t0 = performance.now();
    if (!this.enabled) return { outcome: { status: 'clean' }, scanner: 'none', sha256: src.sha256, size: src.size, cached: false, durationMs: 0 };
    if (src.size > this.cfg.max_scan_bytes) return this.overLimit(src.size, src.sha256, req, performance.now() - t0);
    return this.scanAll(src, req, t0);
  }

  /** What content over max_scan_bytes gets, for callers that see the size before reading. */
  overLimitResult(size: number, req: ScanRequest): ScanResult {
    return this.overLimit(size, undefined, req, 0);
  }

  private overLimit(size: number, sha256: string | undefined, req: ScanRequest, durationMs: number): ScanResult {
    const failOpen = this.cfg.over_limit === 'allow';
    this.deps.metrics?.avScansTotal.inc({ scanner: 'all', status: 'over_limit' });
    this.deps.logger.warn({ conn: req.conn, file: req.name, size, limit: this.cfg.max_scan_bytes, failOpen }, 'AV: content over max scan size, not scanned');
    return {
      outcome: { status: 'error', reason: `content of ${size} bytes is over max_scan_bytes ${this.cfg.max_scan_bytes}`, failOpen },
      scanner: 'all',
      sha256,
      size,
      cached: false,
      durationMs,
    };
  }

  private async scanAll(src: ScanSource, req: ScanRequest, t0: number): Promise<ScanResult> {
    const m = this.deps.metrics;
    const per = await Promise.all(
      this.scanners.map(async (s): Promise<{ s: GuardedScanner; r: GuardedOutcome; cached: boolean }> => {
        const version = s.version;
        const hit = this.cache.get(src.sha256, s.name, version);
        if (hit) {
          m?.avCacheHits.inc({ scanner: s.name });
          return { s, r: { outcome: hit, label: hit.status }, cached: true };
        }
        const ts = performance.now();
        const r = await s.scan(src, req.name);
        m?.avScansTotal.inc({ scanner: s.name, status: r.label });
        m?.avScanDuration.observe({ scanner: s.name }, (performance.now() - ts) / 1000);
        if (r.outcome.status !== 'error') this.cache.set(src.sha256, s.name, version, r.outcome);
        return { s, r, cached: false };
      }),
    );
    const pick =
      per.find((p) => p.r.outcome.status === 'infected') ??
      per.find((p) => p.r.outcome.status === 'error' && !p.r.outcome.failOpen) ??
      per.find((p) => p.r.outcome.status === 'error');
    const outcome: ScanOutcome = pick ? pick.r.outcome : { status: 'clean' };
    const result: ScanResult = {
      outcome,
      scanner: pick ? pick.s.name : per.map((p) => p.s.name).join(','),
      sha256: src.sha256,
      size: src.size,
      cached: per.every((p) => p.cached),
      durationMs: performance.now() - t0,
    };
    const ctx = { conn: req.conn, file: req.name, size: src.size, sha256: src.sha256, scanner: result.scanner, cached: result.cached };
    if (outcome.status === 'infected') this.deps.logger.warn({ ...ctx, signature: outcome.signature }, 'AV: infected');
    else if (outcome.status === 'error') this.deps.logger.warn({ ...ctx, reason: outcome.reason, failOpen: outcome.failOpen }, 'AV: not scanned');
    else this.deps.logger.debug(ctx, 'AV: clean');
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.scanners) s.shutdown();
  }
}
