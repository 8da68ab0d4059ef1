// Files crossing the ICAP door that are not read as web IM bodies: any
// upload (REQMOD body) or download (RESPMOD body) when AV is on, and web IM
// uploads/downloads too large for body inspection. The body is held (memory
// up to the spool threshold, disk past it: never whole in memory), each file
// in it is scanned (every multipart part with a file name on its own, else
// the body as one file), and the answer is either the held bytes passed on
// unchanged (204 when Squid allows it, the ICAP server's echo while its
// replay buffer still has them, else a stream of the held copy) or the block
// page. Every scanned file is a recorded 'file' event (name, size, sha256):
// clean ones allowed with the scanner's name, an infected file (or a
// fail-closed scan error) blocked with the scanner and signature name. Downloads too large to hold before
// answering (RESPMOD_HOLD_MAX) are trickled: they stream to the client while
// the scan spools the same bytes, and an infected one is cut before its last
// bytes. Uploads are always held whole: cutting a trickled upload would hand
// the origin a truncated request (some servers keep partial uploads:
// resumable and chunked-upload protocols), so the origin gets nothing until
// the verdict.
import { PassThrough } from 'node:stream';
import type { HttpHead, IcapRequest, IcapVerdict, TrickleDecision } from '../../icap/types';
import type { Metrics } from '../admin/metrics';
import type { AuditSink } from '../audit/types';
import { avLimits, overLimitResult, rangeSource, scanHeld } from '../av/held-scan';
import { holdBody } from '../av/hold';
import type { ScanSource } from '../av/scanner';
import type { SpooledContent } from '../av/spool';
import type { AvService, ScanResult } from '../av/types';
import { newEventId } from '../events/id';
import type { ImEvent, Verdict } from '../events/types';
import { recordEvent } from '../inspect/context';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import { MultipartIndexer } from './multipart-index';
import { multipartBoundary } from './multipart';

export interface TransferDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  audit?: AuditSink;
  av?: () => AvService | undefined;
  /** Bytes the ICAP server can still echo from its replay buffer. */
  replayBufferBytes: number;
  logTextMax?: number;
  /** Bytes of a trickled download kept back until its verdict (default TRICKLE_HOLD_BACK_BYTES). */
  trickleHoldBackBytes?: number;
}

export interface TransferTarget {
  /** Web IM app, when the transfer is a catalogued endpoint. */
  app?: string;
  protocol?: string;
  /** File name when the caller knows it (catalogue file_name sources). */
  name?: string;
  /** The reply for a blocked file, in the client's shape. */
  block(ev: ImEvent, v: Verdict, what: string): IcapVerdict;
}

const ALLOW: IcapVerdict = Object.freeze({ kind: 'allow' });
const MAX_PARTS = 1000;
/**
 * Squid 5.7 stops feeding a RESPMOD body at about 64 KiB past the preview
 * until the ICAP server starts its answer (measured: the same stall with
 * c-icap's virus_scan and with a bare stub). A download larger than this
 * cannot be held whole and then judged: it is trickled instead (the answer
 * streams while the scan spools the same bytes; the tail waits for the verdict).
 */
export const RESPMOD_HOLD_MAX = 60 * 1024;
/**
 * What an infected trickled download never delivers: its last bytes. The
 * connection is cut before them, so the client's transfer fails and the file
 * is never complete. It must stay well under Squid's ~64 KiB window (above):
 * Squid sends no more of the body until we have echoed what it sent, so a
 * hold-back that large deadlocks (measured with 64 KiB: the download hangs).
 */
export const TRICKLE_HOLD_BACK_BYTES = 8 * 1024;
/** Configured hold-backs are capped here (see TRICKLE_HOLD_BACK_BYTES). */
export const TRICKLE_HOLD_BACK_MAX = 32 * 1024;
/** The scan side's buffer between the ICAP connection and the spool (reading pauses when full). */
const TRICKLE_SINK_BYTES = 64 * 1024;

function declaredLength(head: HttpHead): number | undefined {
  const v = head.get('content-length');
  return v !== undefined && /^\s*\d{1,15}\s*$/.test(v) ? Number(v) : undefined;
}

/** File name a download or raw upload names itself by: Content-Disposition, else the last path segment. */
export function transferName(head: HttpHead | undefined, url: string | undefined): string | undefined {
  const cd = head?.get('content-disposition');
  if (cd !== undefined) {
    const ext = /filename\*\s*=\s*[^']*'[^']*'([^;\s]+)/i.exec(cd);
    if (ext) {
      try {
        return decodeURIComponent(ext[1] as string);
      } catch {
        /* plain form below */
      }
    }
    const m = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(cd);
    if (m) return (m[1] ?? m[2]) as string;
  }
  if (url === undefined) return undefined;
  const p = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(url)?.[1] ?? '';
  const last = p.slice(p.lastIndexOf('/') + 1);
  if (last === '') return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

interface FileToScan {
  name?: string;
  source: ScanSource;
}

export class AvTransfer {
  constructor(private readonly deps: TransferDeps) {}

  /** True when a scanner is configured (else nothing here runs). */
  enabled(): boolean {
    return this.deps.av?.()?.enabled === true;
  }

  async handle(req: IcapRequest, base: ImEvent, target: TransferTarget): Promise<IcapVerdict> {
    const av = this.deps.av?.();
    const isReq = req.method === 'REQMOD';
    const head = isReq ? req.httpRequest : req.httpResponse;
    if (av === undefined || !av.enabled || !req.hasBody || req.body === null || head === undefined) return ALLOW;
    const lim = avLimits(av);
    const log = { conn: req.connectionId, icap: req.id, client: base.clientIp, user: base.user, url: base.url };
    const name = target.name ?? transferName(head, isReq ? undefined : base.url) ?? (isReq ? transferName(undefined, base.url) : undefined);

    const declared = declaredLength(head);
    if (declared !== undefined && declared > lim.maxScanBytes) {
      // Decided before reading: an allow lets the ICAP server stream the body through untouched.
      const r = overLimitResult(av, declared, { name, size: declared, conn: req.connectionId });
      return this.verdictFor(req, base, target, { name, result: r }) ?? ALLOW;
    }
    if (!isReq && (declared === undefined || declared > RESPMOD_HOLD_MAX)) return this.trickle(req, base, target, av, name);

    const boundary = isReq ? multipartBoundary(head.get('content-type')) : null;
    const indexer = boundary === null ? null : new MultipartIndexer(boundary, MAX_PARTS);
    let held: SpooledContent;
    try {
      const got = await holdBody(req.body, {
        thresholdBytes: lim.spoolThresholdBytes,
        maxBytes: lim.maxScanBytes,
        dir: lim.spoolDir,
        ...(indexer ? { observe: (c: Buffer, at: number) => indexer.push(c, at) } : {}),
      });
      if (got.kind === 'over') {
        // The bytes read so far are gone: even a fail-open verdict cannot pass the body on.
        const r = overLimitResult(av, got.seen, { name, size: got.seen, conn: req.connectionId });
        this.deps.logger.warn({ ...log, seen: got.seen, limit: lim.maxScanBytes }, 'AV: body of unknown length over max_scan_bytes: blocked (it cannot be passed on unscanned)');
        const forced: ScanResult = { ...r, outcome: { status: 'error', reason: r.outcome.status === 'error' ? r.outcome.reason : 'over max_scan_bytes', failOpen: false } };
        return this.verdictFor(req, base, target, { name, result: forced }) ?? ALLOW;
      }
      held = got.content;
    } catch (err) {
      // The ICAP connection went away mid-body: nobody is waiting for an answer.
      this.deps.logger.warn({ ...log, err: err instanceof Error ? err.message : String(err) }, 'AV: transfer body not read to its end');
      throw err;
    }

    let keep = false;
    try {
      const files = await this.filesOf(held, indexer, name);
      for (const f of files) {
        const r = await scanHeld(av, f.source, { name: f.name, size: f.source.size, conn: req.connectionId });
        const blocked = this.verdictFor(req, base, target, { name: f.name, result: r });
        if (blocked !== null) return blocked;
      }
      // Passed on unchanged: 204 (Squid keeps its copy) or the server's echo while it still holds the bytes.
      if (req.allow204 || held.size <= this.deps.replayBufferBytes) return ALLOW;
      keep = true;
      const out = held.open();
      out.once('close', () => void held.dispose());
      return { kind: 'modify', body: out };
    } finally {
      if (!keep) await held.dispose();
    }
  }

  /**
   * A download too large to hold before answering: it streams to the client
   * while the scan spools the same bytes; the last bytes wait for the
   * verdict. Infected (or fail-closed): the ICAP connection is cut, Squid
   * aborts the client's transfer, the event is recorded.
   */
  private trickle(req: IcapRequest, base: ImEvent, target: TransferTarget, av: AvService, name: string | undefined): IcapVerdict {
    const lim = avLimits(av);
    const sink = new PassThrough({ highWaterMark: TRICKLE_SINK_BYTES });
    const decide = async (): Promise<TrickleDecision> => {
      const got = await holdBody(sink, { thresholdBytes: lim.spoolThresholdBytes, maxBytes: lim.maxScanBytes, dir: lim.spoolDir });
      if (got.kind === 'over') {
        // Undeclared length past max_scan_bytes: it cannot be judged, and part of it is already out.
        const r = overLimitResult(av, got.seen, { name, size: got.seen, conn: req.connectionId });
        return this.verdictFor(req, base, target, { name, result: r }) === null ? 'pass' : 'abort';
      }
      const held = got.content;
      try {
        const r = await scanHeld(av, held, { name, size: held.size, conn: req.connectionId });
        return this.verdictFor(req, base, target, { name, result: r }) === null ? 'pass' : 'abort';
      } finally {
        await held.dispose();
      }
    };
    const decision = decide();
    decision.then(
      (d) => {
        if (d === 'abort') this.deps.logger.warn({ conn: req.connectionId, icap: req.id, url: base.url, file: name }, 'AV: trickled download cut before its end');
      },
      (err: unknown) => this.deps.logger.warn({ conn: req.connectionId, icap: req.id, url: base.url, err: err instanceof Error ? err.message : String(err) }, 'AV: trickled download not read to its end'),
    );
    return { kind: 'trickle', sink, holdBackBytes: Math.min(this.deps.trickleHoldBackBytes ?? TRICKLE_HOLD_BACK_BYTES, TRICKLE_HOLD_BACK_MAX), decision };
  }

  /** Every multipart part with a file name on its own; otherwise (or when malformed) the whole body. */
  private async filesOf(held: SpooledContent, indexer: MultipartIndexer | null, name: string | undefined): Promise<FileToScan[]> {
    if (indexer !== null) {
      const parts = indexer.finish();
      if (Array.isArray(parts)) {
        const out: FileToScan[] = [];
        for (const p of parts) {
          if (p.filename === undefined) continue;
          out.push({ name: p.filename, source: await rangeSource(held, p.start, p.end) });
        }
        return out;
      }
      this.deps.logger.info({ err: parts.message }, 'AV: multipart upload not well-formed: scanned as one file');
    }
    return held.size === 0 ? [] : [{ ...(name !== undefined ? { name } : {}), source: held }];
  }

  /** null: the file may pass. Records the event for anything but a silent clean pass. */
  private verdictFor(_req: IcapRequest, base: ImEvent, target: TransferTarget, f: { name?: string; result: ScanResult }): IcapVerdict | null {
    const r = f.result;
    const o = r.outcome;
    const { verdict: _baseVerdict, ...rest } = base;
    const ev: ImEvent = { ...rest, id: newEventId(), time: Date.now(), kind: 'file', file: { size: r.size } };
    if (target.protocol !== undefined) ev.protocol = target.protocol;
    if (target.app !== undefined) ev.app = target.app;
    if (f.name !== undefined) ev.file!.name = f.name;
    if (r.sha256 !== undefined) ev.file!.sha256 = r.sha256;
    const logMax = this.deps.logTextMax ?? 4096;
    if (o.status === 'clean') {
      // Every file that crossed and was scanned is on record (issue 5), plain
      // uploads and downloads as well as app transfers: one event per file
      // scanned, never one per body that was only passed through.
      recordEvent(this.deps, ev, (ev.verdict = { action: 'allow', rule: 'av:clean' }), { scanner: r.scanner, cached: r.cached }, logMax);
      return null;
    }
    if (o.status === 'error' && o.failOpen) {
      const v: Verdict = { action: 'allow', rule: `av:${r.scanner}` };
      ev.verdict = v;
      recordEvent(this.deps, ev, v, { scanner: r.scanner, scan_error: o.reason, fail_open: true }, logMax);
      return null;
    }
    const v: Verdict = { action: 'block', rule: `av:${r.scanner}` };
    ev.verdict = v;
    const detail: Record<string, string | number | boolean> = o.status === 'infected' ? { scanner: r.scanner, signature: o.signature } : { scanner: r.scanner, scan_error: o.reason, fail_open: false };
    recordEvent(this.deps, ev, v, detail, logMax);
    const why = o.status === 'infected' ? o.signature : `scan failed: ${o.reason}`;
    return target.block(ev, v, `file ${f.name ?? '(unnamed)'}: ${why}`);
  }
}
