// Line framing for one direction, as an explicit state machine over the
// chunks a socket delivers (after ws's lib/receiver.js). Limits are checked
// before anything is buffered: IRCv3 allows 8191 bytes of tags (with '@' and
// the space) plus 512 bytes of message; ctx.options.maxUnitBytes caps the
// whole line. Allowed lines are forwarded as slices of the chunk they came
// in, consecutive ones in one write; only a line split across chunks is
// copied (its unterminated tail, bounded by the limits).

export const IRC_MAX_TAGS = 8191;
/** 512 per RFC 1459 including CRLF; the content limit tolerates the 2 EOL bytes on top. */
export const IRC_MAX_MESSAGE = 512;

/** What the session wants done with one complete line. */
export interface LineRewrite {
  /** Bytes to send on instead of the line; null drops it. */
  replace: Buffer | null;
  /** Gateway-made bytes for the client (NOTICE, 691, ERROR), sent after everything before the line. */
  reply?: Buffer;
  /** Close the connection after this line (logged reason). */
  close?: string;
  /** Forward this line, then everything after it unparsed (STARTTLS went ahead). */
  passthrough?: boolean;
}

export const PASS = 0;
export type LineOutcome = typeof PASS | LineRewrite;

export interface FramerSink {
  /** Called with a complete line (including its CR/LF when present). */
  onLine(line: Buffer): LineOutcome;
  forward(data: Buffer): void;
  reply(data: Buffer): void;
  close(reason: string): void;
}

const enum St {
  LineStart,
  Tags,
  Message,
  Passthrough,
  Closed,
}

const SP = 0x20;
const LF = 0x0a;
const AT = 0x40;

export class LineFramer {
  private st: St = St.LineStart;
  private pending: Buffer[] = [];
  /** Bytes of the current line seen so far (held in pending, or scanned in this chunk). */
  private lineLen = 0;
  /** Bytes of the tag section including '@' and the space; 0 when none. */
  private tagsLen = 0;
  /** Sum of pending's lengths. */
  private pendingBytes = 0;

  constructor(
    private readonly sink: FramerSink,
    private readonly maxUnitBytes: number,
  ) {}

  get closed(): boolean {
    return this.st === St.Closed;
  }

  /** Held bytes of an unterminated line (for memory checks). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  passthrough(): void {
    if (this.st === St.Closed) return;
    this.st = St.Passthrough;
    for (const b of this.pending) this.sink.forward(b);
    this.dropPending();
  }

  private dropPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  push(chunk: Buffer): void {
    if (this.st === St.Closed) return;
    if (this.st === St.Passthrough) {
      if (chunk.length > 0) this.sink.forward(chunk);
      return;
    }
    const len = chunk.length;
    let pos = 0;
    let lineStart = 0; // start of the current line in this chunk (0 if it began earlier)
    let runStart = 0; // first byte of allowed lines not yet forwarded
    while (pos < len) {
      if (this.st === St.LineStart) {
        this.st = chunk[pos] === AT ? St.Tags : St.Message;
        continue;
      }
      if (this.st === St.Tags) {
        const sp = chunk.indexOf(SP, pos);
        const lf = chunk.indexOf(LF, pos);
        if (sp >= 0 && (lf < 0 || sp < lf)) {
          const tagsLen = this.lineLen + (sp + 1 - pos);
          if (tagsLen > IRC_MAX_TAGS || tagsLen > this.maxUnitBytes) return this.fail(chunk, runStart, lineStart, `irc: tags over ${Math.min(IRC_MAX_TAGS, this.maxUnitBytes)} bytes`);
          this.tagsLen = tagsLen;
          this.lineLen = tagsLen;
          pos = sp + 1;
          this.st = St.Message;
          continue;
        }
        if (lf < 0) {
          const seen = this.lineLen + (len - pos);
          if (seen > IRC_MAX_TAGS || seen > this.maxUnitBytes) return this.fail(chunk, runStart, lineStart, `irc: tags over ${Math.min(IRC_MAX_TAGS, this.maxUnitBytes)} bytes`);
          break;
        }
        // A line of tags only: malformed but small; let the session see it.
        this.st = St.Message;
        continue;
      }
      if (this.st !== St.Message) return;
      const lf = chunk.indexOf(LF, pos);
      const upto = lf < 0 ? len : lf + 1;
      const total = this.lineLen + (upto - pos);
      // Content = line minus tags minus the EOL (LF, and CR when present).
      const eol = lf < 0 ? 0 : lf > 0 && chunk[lf - 1] === 0x0d ? 2 : lf === 0 && this.lastPendingByte() === 0x0d ? 2 : 1;
      const content = total - this.tagsLen - eol;
      if (content > IRC_MAX_MESSAGE) return this.fail(chunk, runStart, lineStart, `irc: line over ${IRC_MAX_MESSAGE} bytes`);
      if (total > this.maxUnitBytes) return this.fail(chunk, runStart, lineStart, `irc: line over maxUnitBytes (${this.maxUnitBytes})`);
      if (lf < 0) break;
      let line: Buffer;
      const joined = this.pending.length > 0;
      if (joined) {
        this.pending.push(chunk.subarray(0, upto));
        line = Buffer.concat(this.pending, total);
        this.dropPending();
      } else {
        line = chunk.subarray(lineStart, upto);
      }
      this.lineLen = 0;
      this.tagsLen = 0;
      this.st = St.LineStart;
      const outcome = this.sink.onLine(line);
      if (outcome === PASS) {
        // A joined line is not contiguous in this chunk: send it on its own.
        if (joined) {
          this.sink.forward(line);
          runStart = upto;
        }
      } else {
        if (lineStart > runStart) this.sink.forward(chunk.subarray(runStart, lineStart));
        if (outcome.replace !== null) this.sink.forward(outcome.replace);
        if (outcome.reply) this.sink.reply(outcome.reply);
        runStart = upto;
        if (outcome.close !== undefined) {
          this.st = St.Closed;
          this.dropPending();
          this.sink.close(outcome.close);
          return;
        }
        if (outcome.passthrough) {
          this.st = St.Passthrough;
          if (upto < len) this.sink.forward(chunk.subarray(upto));
          return;
        }
      }
      pos = upto;
      lineStart = upto;
    }
    if (lineStart > runStart) this.sink.forward(chunk.subarray(runStart, lineStart));
    if (lineStart < len) {
      // Copy: a slice would pin the whole (maybe 64 KiB) chunk for a short tail.
      const tail = Buffer.from(chunk.subarray(lineStart));
      this.pending.push(tail);
      this.pendingBytes += tail.length;
      this.lineLen = this.pendingBytes;
      // A line trickling in byte by byte must not become thousands of Buffers.
      if (this.pending.length > 16) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    }
  }

  /** End of input: a final line without LF is still inspected, never smuggled through. */
  end(): void {
    if (this.st === St.Closed || this.st === St.Passthrough || this.pending.length === 0) return;
    const line = Buffer.concat(this.pending, this.pendingBytes);
    this.dropPending();
    this.lineLen = 0;
    this.tagsLen = 0;
    this.st = St.LineStart;
    const outcome = this.sink.onLine(line);
    if (outcome === PASS) {
      this.sink.forward(line);
      return;
    }
    if (outcome.replace !== null) this.sink.forward(outcome.replace);
    if (outcome.reply) this.sink.reply(outcome.reply);
    if (outcome.close !== undefined) {
      this.st = St.Closed;
      this.sink.close(outcome.close);
    }
  }

  private lastPendingByte(): number | undefined {
    const last = this.pending[this.pending.length - 1];
    return last === undefined ? undefined : last[last.length - 1];
  }

  /** Oversized line: the allowed lines before it still go out, then the tunnel closes. */
  private fail(chunk: Buffer, runStart: number, lineStart: number, reason: string): void {
    if (lineStart > runStart) this.sink.forward(chunk.subarray(runStart, lineStart));
    this.st = St.Closed;
    this.dropPending();
    this.sink.close(reason);
  }
}
