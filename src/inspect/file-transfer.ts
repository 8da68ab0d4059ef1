// One file crossing a tunnel (an IRC DCC data connection, an XMPP IBB
// session): its bytes are hashed per chunk as they pass and, when an AV
// scanner or the file archive is configured, also streamed to them through a
// PassThrough whose fill level is the backpressure (write() false: the source
// waits for 'drain'). The AV side spools past its threshold (src/av/spool.ts),
// so a slow scanner slows the transfer, never grows a buffer without limit; a
// producer that cannot wait (a dissector) is cut off at MAX_QUEUED and the
// file counts as not scanned.
//
// Semantics: the bytes stream through; the verdict comes when the transfer
// ends. Callers keep the file's last bytes back until then (`verdict`): the
// data-connection relay (held-relay.ts) and XMPP IBB (its final stanzas), so
// an infected file never arrives whole. ONE 'file' event records it: size,
// sha256, detail.transfer complete|partial, and
//  - infected: action block, rule av:<scanner>, detail.signature; the file is
//    not archived; `verdict` settles as a block (and onBlock() is told);
//  - not scanned (scanner down, over max_scan_bytes, too slow): the scanner's
//    fail-open/closed choice; fail-closed is a block like infected;
//  - otherwise: the policy's verdict on the completed transfer (or the
//    offer's block), and the content is archived (when the store keeps
//    files), so `imgate files` lists it with its stored path.
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { ArchiveResult, FileMeta } from '../audit/archive';
import { AvServiceImpl } from '../av/service';
import { spool } from '../av/spool';
import type { AvService, ScanResult } from '../av/types';
import type { Verdict } from '../events/types';
import type { EventDraft } from '../protocols/types';
import { completedDraft, type FileVerdict, type VerdictSink } from '../protocols/files/sink';
import { eventFromDraft, recordEvent, type ContextDeps, type TunnelFacts } from './context';
import { FILE_HOLD_BACK_BYTES, FILE_HOLD_BACK_MAX, type InspectSettings } from './settings';

/** What file transfers need beside the context deps (both optional: AV and archive may be off). */
export interface FileDeps extends ContextDeps {
  /** The live AV service (replaced on reload); null or disabled: no scanning. */
  av?: () => AvService | null;
  /** Archives content (src/audit Audit.archiveFile); absent when the store keeps no files. */
  archiveFile?: (content: Readable, meta: FileMeta) => ArchiveResult | Promise<ArchiveResult>;
  /** Overrides InspectSettings.fileHoldBackBytes (tests, harnesses). */
  holdBackBytes?: number;
}

/** The configured hold-back, bounded (a non-number or negative value holds nothing). */
export function holdBackOf(deps: FileDeps, settings: InspectSettings): number {
  const n = deps.holdBackBytes ?? settings.fileHoldBackBytes ?? FILE_HOLD_BACK_BYTES;
  return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), FILE_HOLD_BACK_MAX) : 0;
}

/** Bytes queued towards AV/archive beyond which a producer that ignores backpressure is cut off. */
export const MAX_QUEUED = 8 * 1024 * 1024;
const HIGH_WATER = 256 * 1024;
/**
 * A dissector learns of a tunnel's end only through a FIN; a reset leaves its
 * transfer open. One that got no bytes for this long ends as partial, so its
 * spool file and scan do not linger.
 */
export const IDLE_END_MS = 5 * 60_000;

type Detail = Record<string, string | number | boolean>;

export type { FileVerdict } from '../protocols/files/sink';

export interface TransferOptions {
  /** The verdict the offer got: a blocked offer keeps the transfer blocked. */
  offer?: Verdict;
  /** Told when the verdict blocks (infected, fail-closed), e.g. to cut the data connection. */
  onBlock?: (why: string) => void;
}

/** What the scan/archive side produced; null when neither ran. */
interface Downstream {
  scan: ScanResult | null;
  archived: ArchiveResult | null;
  /** A failure of our own plumbing (spool disk error, overflow). */
  error: string | null;
}

export class FileTransfer implements VerdictSink {
  private readonly hash = createHash('sha256');
  private size = 0;
  private tap: PassThrough | null = null;
  private downstream: Promise<Downstream> | null = null;
  private overflowed = false;
  private ended = false;
  private lastWrite = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  /** Resolves when the event is recorded (tests, shutdown). */
  done: Promise<void> = Promise.resolve();
  /** True when an AV scanner sees the bytes: only then is holding a tail back worth it. */
  readonly scanning: boolean;
  /**
   * Bytes a holder may keep back until `verdict` (inspect.file_hold_back_bytes);
   * 0 when nothing scans or the operator turned holding off. Read by the
   * held relay and, structurally, by the XMPP IBB and MSN verdict holds.
   */
  readonly holdBackBytes: number;
  /** Settles once, when the event is recorded: block for infected or fail-closed, else pass. */
  readonly verdict: Promise<FileVerdict>;
  private settle: (v: FileVerdict) => void = () => undefined;

  constructor(
    private readonly deps: FileDeps,
    private readonly facts: TunnelFacts,
    private readonly settings: InspectSettings,
    private readonly draft: EventDraft,
    private readonly opts: TransferOptions = {},
  ) {
    this.verdict = new Promise<FileVerdict>((r) => (this.settle = r));
    const av = deps.av?.() ?? null;
    const scanning = av !== null && av.enabled;
    this.scanning = scanning;
    this.holdBackBytes = scanning ? holdBackOf(deps, settings) : 0;
    if (!scanning && deps.archiveFile === undefined) return;
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastWrite > IDLE_END_MS) this.end(false, { idle_end: true });
    }, Math.min(IDLE_END_MS, 60_000));
    this.idleTimer.unref();
    this.tap = new PassThrough({ highWaterMark: HIGH_WATER });
    // A destroy (overflow) may come before the consumer reads; its error reaches the consumer's loop.
    this.tap.on('error', () => undefined);
    this.downstream = this.consume(this.tap, scanning ? av : null).catch((err: unknown) => ({ scan: null, archived: null, error: (err as Error).message }));
  }

  /** Hashes and queues one chunk; false: wait for onDrain before the next (like Writable.write). */
  write(chunk: Buffer): boolean {
    if (this.ended) return true;
    this.hash.update(chunk);
    this.size += chunk.length;
    const tap = this.tap;
    if (tap !== null) this.lastWrite = Date.now();
    if (tap === null || this.overflowed) return true;
    if (tap.writableLength > MAX_QUEUED) {
      // Never scan a truncated file as if it were whole: this one is "not scanned".
      this.overflowed = true;
      tap.destroy(new Error(`scanner fell ${MAX_QUEUED} bytes behind the transfer`));
      return true;
    }
    return tap.write(chunk);
  }

  onDrain(fn: () => void): void {
    if (this.tap === null || this.overflowed || this.tap.destroyed) process.nextTick(fn);
    else this.tap.once('drain', fn);
  }

  end(ended: boolean, detail?: Detail): void {
    if (this.ended) return;
    this.ended = true;
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    const sha256 = this.hash.digest('hex');
    const final = completedDraft(this.draft, ended, this.size, sha256, detail);
    if (this.tap === null || this.downstream === null) {
      this.record(final, null);
      return;
    }
    if (!this.overflowed) this.tap.end();
    this.done = this.downstream.then((d) => this.record(final, d));
  }

  /** Feeds the scanner and/or the archive from the tap; the archive gets the content only once the scan allowed it. */
  private async consume(tap: PassThrough, av: AvService | null): Promise<Downstream> {
    const name = this.draft.file?.name;
    const meta: FileMeta = name !== undefined ? { name } : {};
    const req = { name, size: undefined, conn: this.facts.conn };
    if (av === null) return { scan: null, archived: await (this.deps.archiveFile as NonNullable<FileDeps['archiveFile']>)(tap, meta), error: null };
    if (this.deps.archiveFile === undefined || !(av instanceof AvServiceImpl)) return { scan: await av.scan(tap, req), archived: null, error: null };
    // Both: spool once (memory up to the AV threshold, disk past it), scan
    // the spool, archive from it only if the scan allows.
    const lim = av.limits;
    const spooled = await spool(tap, { thresholdBytes: lim.spoolThresholdBytes, maxBytes: lim.maxScanBytes, dir: lim.spoolDir });
    if (spooled.kind === 'over_limit') return { scan: av.overLimitResult(spooled.size, req), archived: null, error: null };
    const src = spooled.source;
    try {
      const scan = await av.scanSource(src, req);
      const blocked = scan.outcome.status === 'infected' || (scan.outcome.status === 'error' && !scan.outcome.failOpen);
      const archived = blocked ? null : await this.deps.archiveFile(src.open(), meta);
      return { scan, archived, error: null };
    } finally {
      await src.dispose();
    }
  }

  private record(final: EventDraft, d: Downstream | null): void {
    const ev = eventFromDraft(this.facts, final);
    const detail: Detail = { ...final.detail };
    const offer = this.opts.offer;
    let verdict: Verdict = offer !== undefined && offer.action === 'block' ? offer : this.deps.policy.evaluate(ev);
    let blockWhy: string | null = null;
    const scan = d?.scan ?? null;
    if (d !== null && d.error !== null) {
      // Our side failed to take the bytes: treat it as a scanner error under the over-limit choice.
      const failOpen = this.overLimitAllows();
      Object.assign(detail, { scan_error: d.error, fail_open: failOpen });
      if (this.deps.av?.()?.enabled === true && !failOpen) blockWhy = `file not scanned: ${d.error}`;
    } else if (scan !== null) {
      const o = scan.outcome;
      detail.scanner = scan.scanner;
      if (o.status === 'infected') {
        detail.signature = o.signature;
        blockWhy = `infected: ${o.signature}`;
      } else if (o.status === 'error') {
        Object.assign(detail, { scan_error: o.reason, fail_open: o.failOpen });
        if (!o.failOpen) blockWhy = `file not scanned: ${o.reason}`;
      }
    }
    if (d?.archived?.storedPath) detail.stored_path = d.archived.storedPath;
    if (blockWhy !== null) verdict = { action: 'block', rule: `av:${scan?.scanner ?? 'scanner'}` };
    ev.verdict = verdict;
    recordEvent(this.deps, ev, verdict, detail, this.settings.logTextMax);
    const why = `${final.protocol} file ${final.file?.name ?? '(unnamed)'} ${blockWhy}`;
    this.settle(blockWhy === null ? { pass: true } : { pass: false, why, rule: verdict.rule });
    if (blockWhy !== null) this.opts.onBlock?.(why);
  }

  /** How long a holder may wait for `verdict` after end(), and what silence means (see AvServiceImpl.verdictWait). */
  verdictWait(): { ms: number; failOpen: boolean } {
    const av = this.deps.av?.() ?? null;
    return av instanceof AvServiceImpl ? av.verdictWait : { ms: 35_000, failOpen: false };
  }

  private overLimitAllows(): boolean {
    const av = this.deps.av?.() ?? null;
    return av instanceof AvServiceImpl ? av.limits.overLimitAllows : false;
  }
}
