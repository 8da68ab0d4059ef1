// MSNP framing for one direction, as an explicit state machine over the
// chunks a socket delivers (after ws's lib/receiver.js):
//
//   LINE --(command line, no payload)------------------------> LINE
//   LINE --(payload command, session inspects it)-> PAYLOAD(n) -> LINE
//   LINE --(payload command, not inspected)-------> SKIP(n) ----> LINE
//
// A unit is a command line (CR LF) plus its payload. Limits are checked
// before anything is buffered: a line may not exceed MSNP_MAX_LINE (or
// maxUnitBytes), and a declared payload is refused when line + payload
// would exceed maxUnitBytes, before its first byte is held. Allowed units
// are forwarded as slices of the chunk they arrived in, consecutive ones in
// one write; only a unit split across chunks is copied (its tail). SKIP
// payloads (contact lists, presence, notifications) stream through without
// being held at all.
import { parseLine, type Dir, type MsnLine } from './command';

/** MSNP command lines are short; NLN/ILN lines with an msnobj are the longest, a few KiB. */
export const MSNP_MAX_LINE = 16384;

export interface UnitRewrite {
  /** Bytes to send on instead of the unit, in order (pieces stay separate writes); null drops it. */
  replace: Buffer | readonly Buffer[] | null;
  /** Gateway-made bytes for the sender of the unit, after everything before it. */
  reply?: Buffer;
  /** Close the connection after this unit (logged reason). */
  close?: string;
}

export const PASS = 0;
export type UnitOutcome = typeof PASS | UnitRewrite;

export interface FramerSink {
  /** Whether the payload of this command must be held and shown to onUnit (else it streams through). */
  inspect(line: MsnLine): boolean;
  /** A complete unit: the command line bytes (unit[0, line.length)) followed by the payload, if inspected. */
  onUnit(unit: Buffer, line: MsnLine): UnitOutcome;
  forward(data: Buffer): void;
  reply(data: Buffer): void;
  close(reason: string): void;
}

const enum St {
  Line,
  Payload,
  Skip,
  Closed,
}

const LF = 0x0a;
/** A unit trickling in byte by byte must not become thousands of Buffers. */
const MAX_PIECES = 16;

export class MsnpFramer {
  private st: St = St.Line;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Payload bytes still expected (PAYLOAD and SKIP). */
  private need = 0;
  private line: MsnLine | undefined;
  private readonly maxLine: number;

  constructor(
    private readonly dir: Dir,
    private readonly sink: FramerSink,
    private readonly maxUnitBytes: number,
  ) {
    this.maxLine = Math.min(MSNP_MAX_LINE, maxUnitBytes);
  }

  get closed(): boolean {
    return this.st === St.Closed;
  }

  /** Bytes held for an incomplete unit (for memory checks). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    let unitStart = 0; // first byte of the current unit in this chunk (0 when it began earlier)
    let runStart = 0; // first byte of allowed units not yet forwarded
    while (pos < len) {
      if (this.st === St.Closed) return;
      if (this.st === St.Skip) {
        const take = Math.min(this.need, len - pos);
        pos += take;
        this.need -= take;
        unitStart = pos;
        if (this.need === 0) this.st = St.Line;
        continue;
      }
      if (this.st === St.Line) {
        const lf = chunk.indexOf(LF, pos);
        const upto = lf < 0 ? len : lf + 1;
        const total = this.pendingBytes + (upto - unitStart);
        if (total > this.maxLine) return this.fail(chunk, runStart, unitStart, `msnp: command line over ${this.maxLine} bytes`);
        if (lf < 0) break;
        const joined = this.pendingBytes > 0;
        const lineBuf = joined ? this.take(chunk.subarray(0, upto)) : chunk.subarray(unitStart, upto);
        const line = parseLine(lineBuf, this.dir);
        pos = upto;
        if (line.payload < 0) return this.fail(chunk, runStart, unitStart, `msnp: ${line.command} with a malformed payload length`);
        if (line.payload > 0 && line.length + line.payload > this.maxUnitBytes) {
          return this.fail(chunk, runStart, unitStart, `msnp: ${line.command} unit of ${line.length + line.payload} bytes over maxUnitBytes (${this.maxUnitBytes})`);
        }
        if (line.payload > 0 && this.sink.inspect(line)) {
          this.st = St.Payload;
          this.need = line.payload;
          this.line = line;
          if (joined) {
            // The line now lives in pending; the payload starts here.
            this.hold(lineBuf);
            unitStart = upto;
            runStart = upto;
          }
          continue;
        }
        const outcome = this.sink.onUnit(lineBuf, line);
        if (line.payload > 0) {
          this.st = St.Skip;
          this.need = line.payload;
        }
        runStart = this.apply(outcome, chunk, runStart, unitStart, upto, joined ? lineBuf : null);
        unitStart = upto;
        continue;
      }
      // PAYLOAD
      const take = Math.min(this.need, len - pos);
      pos += take;
      this.need -= take;
      if (this.need > 0) break;
      const joined = this.pendingBytes > 0;
      const unit = joined ? this.take(chunk.subarray(unitStart, pos)) : chunk.subarray(unitStart, pos);
      const line = this.line as MsnLine;
      this.line = undefined;
      this.st = St.Line;
      runStart = this.apply(this.sink.onUnit(unit, line), chunk, runStart, unitStart, pos, joined ? unit : null);
      unitStart = pos;
    }
    if (this.st === St.Closed) return;
    if (unitStart > runStart) this.sink.forward(chunk.subarray(runStart, unitStart));
    if (unitStart < len && (this.st === St.Line || this.st === St.Payload)) this.hold(chunk.subarray(unitStart));
  }

  /**
   * End of input. A final line without CR LF is still inspected (and then
   * forwarded or not like any line); an incomplete payload is dropped: the
   * peer could never act on it, and it must not pass uninspected.
   */
  end(): void {
    if (this.st === St.Closed || this.pendingBytes === 0) return;
    const held = Buffer.concat(this.pending, this.pendingBytes);
    this.dropPending();
    if (this.st !== St.Line) return;
    const line = parseLine(held, this.dir);
    line.payload = 0;
    this.apply(this.sink.onUnit(held, line), held, 0, 0, held.length, held);
  }

  /** Applies an outcome for the unit chunk[unitStart, upto) (or `joinedUnit`); returns the new run start. */
  private apply(outcome: UnitOutcome, chunk: Buffer, runStart: number, unitStart: number, upto: number, joinedUnit: Buffer | null): number {
    if (outcome === PASS) {
      // A joined unit is not contiguous in this chunk: send it on its own.
      if (joinedUnit === null) return runStart;
      this.sink.forward(joinedUnit);
      return upto;
    }
    // A joined unit began in an earlier chunk: no run of this chunk precedes it.
    if (joinedUnit === null && unitStart > runStart) this.sink.forward(chunk.subarray(runStart, unitStart));
    const r = outcome.replace;
    if (r !== null) {
      if (Buffer.isBuffer(r)) this.sink.forward(r);
      else for (const b of r) this.sink.forward(b);
    }
    if (outcome.reply) this.sink.reply(outcome.reply);
    if (outcome.close !== undefined) {
      this.st = St.Closed;
      this.dropPending();
      this.sink.close(outcome.close);
    }
    return upto;
  }

  /** Joins the held bytes with `last` (the rest of the unit in this chunk) and forgets them. */
  private take(last: Buffer): Buffer {
    this.pending.push(last);
    const all = Buffer.concat(this.pending, this.pendingBytes + last.length);
    this.dropPending();
    return all;
  }

  private hold(bytes: Buffer): void {
    // Copy: a slice would pin the whole (maybe 64 KiB) chunk for a short tail.
    const copy = Buffer.from(bytes);
    this.pending.push(copy);
    this.pendingBytes += copy.length;
    if (this.pending.length > MAX_PIECES) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
  }

  private dropPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Oversized or malformed unit: the allowed units before it still go out, then the tunnel closes. */
  private fail(chunk: Buffer, runStart: number, unitStart: number, reason: string): void {
    if (unitStart > runStart) this.sink.forward(chunk.subarray(runStart, unitStart));
    this.st = St.Closed;
    this.dropPending();
    this.sink.close(reason);
  }
}
