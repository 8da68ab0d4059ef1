// One scanner behind an opossum circuit breaker. Scanner failures (connect,
// protocol, timeout) count towards opening it; an engine's size refusal does
// not. Whatever could not be scanned becomes an `error` outcome carrying the
// operator's fail-open/closed choice, never a rejection.
import CircuitBreaker from 'opossum';
import type { ScanOutcome } from './types';
import type { ScannerConfig } from './schema';
import { ScanError, type ScanSource, type Scanner, type Verdict } from './scanner';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Outcome plus the metric label for it. */
export interface GuardedOutcome {
  outcome: ScanOutcome;
  label: 'clean' | 'infected' | 'error' | 'timeout' | 'breaker_open' | 'over_limit';
}

type Args = [ScanSource, string | undefined, AbortController];

export interface GuardOptions {
  /** Verdict for content the engine refused as too large. */
  overLimitFailOpen: boolean;
  onState?: (scanner: string, state: BreakerState) => void;
}

export class GuardedScanner {
  readonly name: string;
  readonly failOpen: boolean;
  readonly required: boolean;
  private readonly breaker: CircuitBreaker<Args, Verdict>;
  private versionText = 'unknown';
  private lastReachable = false;
  private readonly versionTimeoutMs: number;
  /** In-flight version probes, aborted by shutdown(). */
  private readonly probes = new Set<AbortController>();

  constructor(
    readonly scanner: Scanner,
    cfg: ScannerConfig,
    private readonly opts: GuardOptions,
  ) {
    this.name = cfg.name;
    this.failOpen = cfg.fail === 'open';
    this.required = cfg.required;
    this.versionTimeoutMs = Math.min(cfg.breaker.timeout_ms, 10_000);
    this.breaker = new CircuitBreaker<Args, Verdict>((src, name, ac) => scanner.scan(src, ac.signal, name), {
      name: cfg.name,
      timeout: cfg.breaker.timeout_ms,
      errorThresholdPercentage: cfg.breaker.error_threshold_percentage,
      resetTimeout: cfg.breaker.reset_timeout_ms,
      volumeThreshold: cfg.breaker.volume_threshold,
      rollingCountTimeout: cfg.breaker.rolling_window_ms,
      errorFilter: (err: unknown) => err instanceof ScanError && err.kind === 'limit',
    });
    const emit = (s: BreakerState) => () => opts.onState?.(this.name, s);
    this.breaker.on('open', emit('open'));
    this.breaker.on('halfOpen', emit('half-open'));
    this.breaker.on('close', emit('closed'));
    this.breaker.on('success', () => {
      this.lastReachable = true;
    });
  }

  get version(): string {
    return this.versionText;
  }

  get reachable(): boolean {
    return this.lastReachable;
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    if (this.breaker.halfOpen) return 'half-open';
    return 'closed';
  }

  async scan(src: ScanSource, name: string | undefined): Promise<GuardedOutcome> {
    const ac = new AbortController();
    try {
      const v = await this.breaker.fire(src, name, ac);
      return { outcome: v, label: v.status };
    } catch (err) {
      // Stop whatever is still running (opossum's timeout does not).
      if (!ac.signal.aborted) ac.abort(err);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EOPENBREAKER') return this.error(`${this.name}: circuit breaker open`, 'breaker_open');
      if (code === 'ETIMEDOUT') {
        this.lastReachable = false;
        return this.error(`${this.name}: ${(err as Error).message}`, 'timeout');
      }
      if (err instanceof ScanError && err.kind === 'limit') {
        return { outcome: { status: 'error', reason: err.message, failOpen: this.opts.overLimitFailOpen }, label: 'over_limit' };
      }
      if (err instanceof ScanError && err.kind === 'io') this.lastReachable = false;
      return this.error(`${this.name}: ${(err as Error).message}`, 'error');
    }
  }

  private error(reason: string, label: GuardedOutcome['label']): GuardedOutcome {
    return { outcome: { status: 'error', reason, failOpen: this.failOpen }, label };
  }

  /** Re-reads the signature version (outside the breaker: a probe, not a scan). Returns true when it changed. */
  async refreshVersion(): Promise<boolean> {
    const ac = new AbortController();
    this.probes.add(ac);
    const timer = setTimeout(() => ac.abort(new Error('version probe timed out')), this.versionTimeoutMs);
    try {
      const v = await this.scanner.version(ac.signal);
      this.lastReachable = true;
      const changed = v !== this.versionText;
      this.versionText = v;
      return changed;
    } catch {
      this.lastReachable = false;
      return false;
    } finally {
      clearTimeout(timer);
      this.probes.delete(ac);
    }
  }

  shutdown(): void {
    for (const ac of this.probes) ac.abort(new Error('scanner closed'));
    this.breaker.shutdown();
  }
}
