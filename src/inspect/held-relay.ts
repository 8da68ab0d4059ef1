// The offerer -> client direction of a file data connection, as the ICAP
// trickle answer does it (icap/trickle.ts): every chunk goes to the
// FileTransfer (hash, AV, archive) at once and on to the client, except the
// file's last `holdBack` bytes, which wait for the verdict. Clean: they go
// out and the connection finishes normally. Infected or fail-closed: the
// connection is cut without them, so the receiver never holds the whole file.
//
// States: STREAM (passing all but the tail) -> DECIDING (the file ended, its
// verdict is awaited, nothing more is read) -> RELEASED (everything passes)
// or CUT. With nothing to hold (no scanner) it starts RELEASED.
//
// Where the file ends:
//  - a framed connection (OSCAR OFT): the FilePayload says 'done'. Only
//    bytes from the first file byte on are held: framing before the data
//    passes, since the sender may wait for the receiver's answer to it;
//  - a raw connection with an offered size (IRC DCC SEND): that many bytes,
//    then GRACE_MS of silence. It must not wait for FIN: a DCC sender closes
//    only after the receiver acknowledged the whole size, which needs the
//    held tail. Bytes past the offered size within the grace make it a
//    transfer of unknown size (below); bytes after the file was decided at
//    its size were never scanned: the connection is cut;
//  - otherwise FIN: the trailing `holdBack` bytes are held until then.
// Why this cannot deadlock: the tail is only ever the last holdBack bytes of
// the file and everything before it passes as it comes. A DCC sender that
// sends ahead (the whole file, or windows wider than holdBack) is never
// stalled. One that waits for the receiver's ack of each packet before the
// next (old mIRC without "fast send") stops inside the held window: when a
// raw transfer of known size stays silent for stallMs with a tail held, the
// sender is taken to be waiting, the tail is released, and from then on only
// the chunk that completes the file is held (it needs no further ack to be
// decided). So such a sender loses stallMs once and the receiver still
// never gets the file whole. Without an offered size the end is only FIN,
// which such a sender sends after its last ack: there the stall releases
// the window for good (the file is still scanned and recorded, and a block
// still cuts what is open, but it may have arrived whole). Framed
// connections (OFT) are not acknowledged per chunk and get no stall rule.
// After the file ended, the wait for the verdict is bounded by the
// scanner's timeout (AvServiceImpl.verdictWait).
// Several files on one framed connection (OSCAR OFT2 multi-file): when the
// payload is a MultiFilePayload and the caller gives `nextTransfer`, each
// file is its own STREAM -> DECIDING -> RELEASED cycle with its own
// FileTransfer (event, sha256, verdict): after a file's clean verdict the
// payload is re-armed and the next file's bytes are held again. Bytes the
// sender pipelined after a file's end before its verdict (a sender that does
// not wait for the receiver's done) pass with that file's release, unheld.
// Memory: the tail (at most holdBack bytes) plus one socket read while
// DECIDING; reading pauses while the client or the scan side is full.
import type { Socket } from 'node:net';
import type { FilePayload } from '../protocols/types';
import type { FileTransfer, FileVerdict } from './file-transfer';

/** A framed payload that can carry several files in a row (OftPayload). */
export interface MultiFilePayload extends FilePayload {
  /** The current file ended and the framing announced another. */
  readonly moreFiles: boolean;
  /** Files whose framing (prompt) was read so far. */
  readonly promptsRead: number;
  /** Bytes at the end of the last pushed chunk left untaken because the file ended there. */
  readonly leftover: number;
  /** Re-arms the parser for the next file; false when none was announced. */
  nextFile(): boolean;
}

const isMulti = (p: FilePayload | null): p is MultiFilePayload => p !== null && typeof (p as Partial<MultiFilePayload>).nextFile === 'function';

export interface HeldRelayOptions {
  /** Bytes held back until the verdict; 0 = nothing held (no scanner). */
  holdBack: number;
  /** Raw connection of a known size: the file ends there, bytes past it are not the offered file. */
  declared?: number;
  /** Framed connection: extracts the file's bytes (ExpectedConnection.payload). */
  payload: FilePayload | null;
  /** Tears the tunnel down with a logged reason. */
  cut(why: string): void;
  /** Told once when a framed payload ended in 'failed' (its reason, in the protocol's terms), for the log. */
  framingFailed?(why: string): void;
  /**
   * Multi-file framed connection: the FileTransfer for each file after the
   * first, made when that file's framing was read (its declared name and size).
   * Absent: bytes after the first file are trailer, as before.
   */
  nextTransfer?: (declared: { name?: string; size?: number }, index: number) => FileTransfer;
  /** Silence with a tail held after which a sender of known size is taken to wait for acks (default STALL_MS). */
  stallMs?: number;
}

export const STALL_MS = 1500;
/** Silence after the offered size is reached before the file counts as ended there. */
export const GRACE_MS = 200;

const STREAM = 0;
const DECIDING = 1;
const RELEASED = 2;
const CUT = 3;

type Detail = Record<string, string | number | boolean>;

export class HeldFileRelay {
  private state: number;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** Bytes read from the offerer (file bytes for a raw connection). */
  private seen = 0;
  private srcEnded = false;
  private transferEnded = false;
  private waitDest = false;
  private waitTransfer = false;
  private timer: NodeJS.Timeout | null = null;
  /** Raw transfer of known size whose sender waits for acks: only the completing chunk is held. */
  private lockstep = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private lastData = 0;
  private lastChunk = 0;
  /** The offered size while it is trusted; undefined once the offerer went past it. */
  private declared: number | undefined;
  private graceTimer: NodeJS.Timeout | null = null;
  /** The file was decided at its offered size: later bytes are not part of it. */
  private endedAtSize = false;
  /**
   * Framed connection: offset of the first file byte on the wire (-1: none
   * yet). Only what follows it is held: the framing before the data may
   * need the receiver's answer first (an OFT prompt waits for its ack).
   */
  private dataStart = -1;
  /** The current file's transfer; null between files until the next one's framing is read. */
  private transfer: FileTransfer | null;
  /** Files started on this connection (multi-file). */
  private fileIndex = 0;
  /** The end of the chunk that finished a file, not yet framed (multi-file). */
  private pending: Buffer | null = null;

  constructor(
    private readonly src: Socket,
    private readonly dest: Socket,
    transfer: FileTransfer,
    private readonly opts: HeldRelayOptions,
  ) {
    this.transfer = transfer;
    this.state = opts.holdBack > 0 ? STREAM : RELEASED;
    this.declared = opts.holdBack > 0 ? opts.declared : undefined;
  }

  /** `head`: bytes the source already sent before the relay took over (a client-side source). */
  start(head?: Buffer): void {
    if (head !== undefined && head.length > 0) this.onData(head);
    this.src.on('data', this.onData);
    this.src.once('end', this.onEnd);
    // Closed without FIN (reset, idle timeout, gateway stop): what crossed is a partial transfer.
    this.src.once('close', this.onClose);
    this.dest.once('close', this.onDestClose);
    this.src.resume();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === CUT) return;
    if (this.endedAtSize) {
      // Never scanned: the file was decided without them.
      this.cutNow(`file data connection: the offerer sent more than the offered ${this.opts.declared} bytes after the file was decided`);
      return;
    }
    const data = chunk;
    this.seen += data.length;
    this.lastChunk = data.length;
    if (!this.transferEnded) this.toTransfer(data);
    if (data.length > 0) {
      if (this.state === RELEASED) this.toDest(data);
      else {
        this.tail.push(data);
        this.tailBytes += data.length;
        this.releaseOver();
      }
    }
    if (!this.transferEnded) this.maybeFileEnd();
    if (this.state === STREAM && this.tailBytes > 0 && this.opts.payload === null) this.watchStall();
    if (this.waitDest || this.waitTransfer || this.state === DECIDING) this.src.pause();
  };

  private readonly onEnd = (): void => {
    this.srcEnded = true;
    if (this.state === CUT) return;
    const p = this.opts.payload;
    if (!this.transferEnded) this.endTransfer(p === null || p.state === 'done');
    if (this.state === RELEASED) this.endDest();
  };

  private readonly onClose = (): void => {
    if (!this.transferEnded && this.state !== CUT) this.endTransfer(false);
  };

  private readonly onDestClose = (): void => {
    // Nobody reads any more: stop waiting for a drain that will not come.
    if (!this.waitDest) return;
    this.dest.removeListener('drain', this.onDestDrain);
    this.onDestDrain();
  };

  private readonly onDestDrain = (): void => {
    this.waitDest = false;
    this.maybeResume();
  };

  private readonly onTransferDrain = (): void => {
    this.waitTransfer = false;
    this.maybeResume();
  };

  private toTransfer(data: Buffer): void {
    const p = this.opts.payload;
    if (p === null) {
      if (data.length > 0 && !(this.transfer as FileTransfer).write(data)) this.waitTransfer = true;
    } else if (p.state === 'header' || p.state === 'data') {
      for (const part of p.push(data)) {
        if (this.dataStart < 0 && part.length > 0) this.dataStart = this.firstFileByte(data, part);
        if (!this.current().write(part)) this.waitTransfer = true;
      }
      if (this.opts.nextTransfer !== undefined && isMulti(p) && p.moreFiles && p.leftover > 0) this.pending = data.subarray(data.length - p.leftover);
    }
    if (this.waitTransfer) this.current().onDrain(this.onTransferDrain);
  }

  /** The transfer of the file being read; between files, made from its framing (multi-file). */
  private current(): FileTransfer {
    if (this.transfer === null) {
      const p = this.opts.payload as FilePayload;
      this.transfer = (this.opts.nextTransfer as NonNullable<HeldRelayOptions['nextTransfer']>)(p.declared ?? {}, this.fileIndex);
    }
    return this.transfer;
  }

  /** After a file's clean verdict: the next file of a multi-file connection, held like the first. */
  private nextFile(): void {
    const p = this.opts.payload;
    if (this.opts.nextTransfer === undefined || !isMulti(p) || !p.nextFile()) return;
    this.fileIndex++;
    this.transfer = null;
    this.transferEnded = false;
    this.dataStart = -1;
    this.state = this.opts.holdBack > 0 ? STREAM : RELEASED;
    const rest = this.pending;
    this.pending = null;
    // Already counted in `seen` and sent with the previous file's release.
    if (rest !== null) {
      this.toTransfer(rest);
      this.maybeFileEnd();
    }
  }

  /** Wire offset of `part` (a subarray of `data`, per the FilePayload contract; a copy is taken to end the chunk). */
  private firstFileByte(data: Buffer, part: Buffer): number {
    const chunkStart = this.seen - data.length;
    const within = part.buffer === data.buffer ? part.byteOffset - data.byteOffset : -1;
    return within >= 0 && within + part.length <= data.length ? chunkStart + within : this.seen - part.length;
  }

  private maybeFileEnd(): void {
    const p = this.opts.payload;
    if (p !== null) {
      if (p.state === 'done' || p.state === 'failed') this.endTransfer(p.state === 'done');
      return;
    }
    const declared = this.declared;
    if (declared === undefined || this.seen < declared) return;
    if (this.seen > declared) {
      // Larger than offered: the size is no end marker; the trailing window waits for FIN.
      this.declared = undefined;
      this.clearGrace();
      this.releaseOver();
      return;
    }
    this.graceTimer ??= setTimeout(() => {
      this.graceTimer = null;
      if (this.state !== STREAM || this.transferEnded || this.seen !== declared) return;
      this.endedAtSize = true;
      this.endTransfer(true);
    }, GRACE_MS);
  }

  private clearGrace(): void {
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  private endTransfer(ended: boolean): void {
    this.transferEnded = true;
    const p = this.opts.payload;
    if (this.transfer === null && isMulti(p) && p.promptsRead <= this.fileIndex) {
      // Between files and no further prompt came (the sender stopped): no file to record.
      this.state = this.state === CUT ? CUT : RELEASED;
      return;
    }
    const transfer = this.current();
    const detail: Detail = {};
    if (p !== null) {
      if (p.state === 'failed') {
        const why = p.failure ?? 'framing failed';
        detail.framing = 'failed';
        detail.framing_failure = why;
        this.opts.framingFailed?.(why);
      }
      if (p.declared?.name !== undefined) detail.declared_name = p.declared.name;
      if (p.declared?.size !== undefined) detail.declared_size = p.declared.size;
    }
    if (this.opts.declared !== undefined && this.declared === undefined && this.opts.holdBack > 0) detail.larger_than_offered = true;
    if (this.fileIndex > 0) detail.file_index = this.fileIndex;
    transfer.end(ended, detail);
    this.clearGrace();
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    const file = this.fileIndex;
    if (this.state === STREAM) {
      this.state = DECIDING;
      const wait = transfer.verdictWait();
      this.timer = setTimeout(() => {
        this.timer = null;
        this.onVerdict(wait.failOpen ? { pass: true } : { pass: false, why: `file data connection: no AV verdict within ${wait.ms} ms (fail-closed)`, rule: 'av:timeout' }, file);
      }, wait.ms);
      this.timer.unref();
    }
    void transfer.verdict.then((v) => this.onVerdict(v, file));
    // Nothing held (no scanner, holding off): the next file starts at once.
    if (this.state === RELEASED) this.nextFile();
  }

  /**
   * Also reached after a release (the timeout passed it): a late block still
   * cuts what is open. `file`: whose verdict; a late pass for an earlier file
   * must not release the current one's tail (multi-file).
   */
  private onVerdict(v: FileVerdict, file: number): void {
    if (this.state === CUT) return;
    if (v.pass && file !== this.fileIndex) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!v.pass) {
      if (!this.src.destroyed || !this.dest.destroyed) this.cutNow(v.why);
      return;
    }
    if (this.state !== DECIDING) return;
    this.state = RELEASED;
    const t = this.tail;
    this.tail = [];
    this.tailBytes = 0;
    for (const c of t) this.toDest(c);
    this.nextFile();
    if (this.srcEnded) {
      const p = this.opts.payload;
      if (this.state !== RELEASED && !this.transferEnded) this.endTransfer(p !== null && p.state === 'done');
      if (this.state === RELEASED) this.endDest();
    }
    this.maybeResume();
  }

  /** One timer per stall, not per chunk: it re-arms itself for the time left since the last bytes. */
  private watchStall(): void {
    this.lastData = Date.now();
    if (this.stallTimer !== null) return;
    const ms = this.opts.stallMs ?? STALL_MS;
    const check = (): void => {
      this.stallTimer = null;
      if (this.state !== STREAM || this.tailBytes === 0) return;
      const idle = Date.now() - this.lastData;
      if (idle < ms) {
        this.stallTimer = setTimeout(check, ms - idle);
        this.stallTimer.unref();
        return;
      }
      // The sender waits for the receiver's ack of what we hold.
      this.lockstep = true;
      this.releaseOver();
    };
    this.stallTimer = setTimeout(check, ms);
    this.stallTimer.unref();
  }

  /** Sends what lies before the held window (views, no copies). */
  private releaseOver(): void {
    if (this.state !== STREAM) return;
    const declared = this.declared;
    const hb = this.opts.holdBack;
    let keep: number;
    if (this.opts.payload !== null) keep = this.dataStart < 0 ? 0 : Math.min(hb, this.seen - this.dataStart);
    else if (declared === undefined) keep = this.lockstep ? 0 : hb;
    else if (this.lockstep) keep = this.seen >= declared ? this.lastChunk : 0;
    else keep = Math.max(0, this.seen - Math.max(0, declared - hb));
    while (this.tailBytes > keep) {
      const first = this.tail[0] as Buffer;
      const over = this.tailBytes - keep;
      if (first.length <= over) {
        this.tail.shift();
        this.tailBytes -= first.length;
        this.toDest(first);
      } else {
        this.tail[0] = first.subarray(over);
        this.tailBytes -= over;
        this.toDest(first.subarray(0, over));
      }
    }
  }

  private toDest(b: Buffer): void {
    const d = this.dest;
    if (d.destroyed || d.writableEnded) return;
    if (!d.write(b) && !this.waitDest) {
      this.waitDest = true;
      d.once('drain', this.onDestDrain);
    }
  }

  private endDest(): void {
    if (!this.dest.destroyed && !this.dest.writableEnded) this.dest.end();
  }

  private maybeResume(): void {
    if (this.state === CUT || this.state === DECIDING || this.waitDest || this.waitTransfer || this.src.destroyed) return;
    this.src.resume();
  }

  private cutNow(why: string): void {
    this.state = CUT;
    this.clearGrace();
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.tail = [];
    this.tailBytes = 0;
    this.src.removeListener('data', this.onData);
    if (!this.transferEnded) this.endTransfer(false);
    this.opts.cut(why);
  }
}
