// OSCAR File Transfer (OFT2) on a rendezvous data connection, as the
// offerer sends it (the direction from the dialled upstream to the client):
//
//   HEAD6 --(magic 'OFT2', 192 <= hdrlen <= MAX)--> HEAD --(type 0x0101 prompt)--> PEEK/DATA
//   PEEK  --(not 'OFT2'+0x0106: a resume accept)--> DATA(size) --(size bytes)--> DONE
//   anything else (bad magic or length, not a prompt, encrypted or
//   compressed, a resumed transfer) ------------> FAILED
//
// Header layout (libpurple oscar/peer_oft.c peer_oft_send / peer_oft_recv_frame,
// libfaim ft.c aim_oft_getheader, Wireshark packet-aim-oft.c): 'OFT2',
// u16 hdrlen (whole header, magic included, 256 for a 64-byte name), u16
// type, cookie[8], u16 encrypt @16, u16 compress @18, u16 totfiles @20,
// u16 filesleft @22, u16 totparts, u16 partsleft, u32 totsize @28, u32 size
// @32, u32 modtime, u32 checksum, u32 rfrcsum, u32 rfsize, u32 cretime, u32
// rfcsum, u32 nrecvd @60, u32 recvcsum, idstring[32] @68, flags @100,
// lnameoffset, lsizeoffset, dummy[69], macfileinfo[16] @172, u16 nencode
// @188 (0 ASCII, 2 UTF-16BE, 3 ISO-8859-1), u16 nlanguage @190, name
// (NUL-terminated) @192 up to hdrlen. After the sender's prompt (0x0101)
// and the receiver's ack (0x0202, other direction) come `size` raw bytes;
// the receiver ends with done (0x0204). A receiver that already holds part
// of the file asks to resume (0x0205) and the sender answers 0x0106 before
// data from an offset: that transfer cannot be hashed whole, so it fails
// (recorded as partial).
//
// Several files (libfaim ft.c, Wireshark packet-aim-oft.c): the prompt's
// totfiles/filesleft say how many follow; each file is its own cycle of
// prompt, ack, `size` bytes and done, and the sender writes the next prompt
// only after the receiver's done. push() stops at the end of each file
// (`leftover` says how many bytes of the chunk it left), so the holder can
// decide one file before the next begins; nextFile() re-arms the parser for
// the next prompt. A holder that never calls nextFile() sees the old
// contract: bytes after the first file are trailer.
//
// Through AOL's rendezvous proxy (libpurple oscar/peer_proxy.c) the data
// connection first carries proxy frames: u16 length (of what follows it),
// u16 version 0x044A, u16 type (1 error, 2 create, 3 created, 4 join,
// 5 ready), u32, u16 flags, payload. Before the first prompt, frames with
// that version are skipped (counted, never buffered; at most
// MAX_PROXY_FRAME each), whichever end sends them: the joiner's JOIN, the
// proxy's READY. A proxy error frame fails the extraction.
//
//   HEAD6 --(bytes 2..3 = 0x044A, before the first prompt)--> PROXY(skip) --> HEAD6
//
// The header is the only thing buffered: at most MAX_OFT_HEADER bytes,
// checked before the first byte is held. File bytes are returned as
// subarrays of the pushed chunk; the one exception is the PEEK state, which
// holds up to 8 bytes when the data itself begins with 'OFT2' (to tell a
// resume accept from a file that starts with those letters) and returns them
// as one fresh buffer.
import type { FilePayload } from '../types';

export const OFT_MAGIC = 0x4f465432; // 'OFT2'
export const OFT_PROMPT = 0x0101;
export const OFT_ACK = 0x0202;
export const OFT_DONE = 0x0204;
export const OFT_RESUME_ACCEPT = 0x0106;
/** The fixed part before the name. */
export const OFT_FIXED = 192;
/** A header with a long name stays far below this; a larger hdrlen is not OFT. */
export const MAX_OFT_HEADER = 4096;

const PEEK = 8;
export const OFT_PROXY_VERSION = 0x044a;
const PROXY_ERROR = 0x0001;
/** A JOIN (screen name, session number, cookie, capability) stays far below this. */
export const MAX_PROXY_FRAME = 1024;

const enum St {
  Head6,
  Head,
  Proxy,
  Peek,
  Data,
  Done,
  Failed,
}

function decodeName(b: Buffer, encoding: number): string {
  if (encoding === 2) {
    let end = 0;
    while (end + 1 < b.length && (b[end] !== 0 || b[end + 1] !== 0)) end += 2;
    return Buffer.from(b.subarray(0, end)).swap16().toString('utf16le');
  }
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul < 0 ? b.length : nul);
}

export class OftPayload implements FilePayload {
  private st: St = St.Head6;
  private readonly head6 = Buffer.alloc(6);
  private header: Buffer | null = null;
  private got = 0;
  /** File bytes still to come (DATA, PEEK). */
  private remaining = 0;
  private peek: Buffer | null = null;
  private peekGot = 0;
  declared?: { name?: string; size?: number };
  /** Why the framing failed, for the transfer's log line. */
  failure: string | undefined;
  /** Prompts read so far (one per file). */
  promptsRead = 0;
  /** Bytes at the end of the last pushed chunk that push() did not take because the file ended there. */
  leftover = 0;
  private filesLeft = 0;
  /** Rendezvous proxy frames skipped before the first prompt. */
  proxyFrames = 0;

  /** The file ended and its prompt said more files follow in this session. */
  get moreFiles(): boolean {
    return this.st === St.Done && this.filesLeft > 1;
  }

  /** After a file ended with moreFiles: expect the next prompt. False (and no change) otherwise. */
  nextFile(): boolean {
    if (!this.moreFiles) return false;
    this.st = St.Head6;
    this.got = 0;
    this.leftover = 0;
    return true;
  }

  get state(): 'header' | 'data' | 'done' | 'failed' {
    switch (this.st) {
      case St.Head6:
      case St.Head:
      case St.Proxy:
        return 'header';
      case St.Peek:
      case St.Data:
        return 'data';
      case St.Done:
        return 'done';
      default:
        return 'failed';
    }
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let p = 0;
    this.leftover = 0;
    while (p < chunk.length) {
      switch (this.st) {
        case St.Head6: {
          const n = Math.min(6 - this.got, chunk.length - p);
          chunk.copy(this.head6, this.got, p, p + n);
          this.got += n;
          p += n;
          if (this.got === 6) this.startHeader();
          break;
        }
        case St.Head: {
          const h = this.header as Buffer;
          const n = Math.min(h.length - this.got, chunk.length - p);
          chunk.copy(h, this.got, p, p + n);
          this.got += n;
          p += n;
          if (this.got === h.length) this.endHeader(h);
          break;
        }
        case St.Proxy: {
          const n = Math.min(this.remaining, chunk.length - p);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.st = St.Head6;
            this.got = 0;
          }
          break;
        }
        case St.Peek:
          p = this.peekAt(chunk, p, out);
          break;
        case St.Data: {
          const n = Math.min(this.remaining, chunk.length - p);
          out.push(chunk.subarray(p, p + n));
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) this.st = St.Done;
          break;
        }
        default:
          // DONE: trailer or the next file (nextFile()); FAILED: nothing more is file.
          this.leftover = chunk.length - p;
          return out;
      }
    }
    return out;
  }

  private fail(why: string): void {
    this.st = St.Failed;
    this.failure = why;
    this.header = null;
    this.peek = null;
  }

  private startHeader(): void {
    if (this.promptsRead === 0 && this.head6.readUInt16BE(2) === OFT_PROXY_VERSION) return this.proxyFrame();
    if (this.head6.readUInt32BE(0) !== OFT_MAGIC) return this.fail('not an OFT2 header');
    const len = this.head6.readUInt16BE(4);
    if (len < OFT_FIXED || len > MAX_OFT_HEADER) return this.fail(`OFT2 header length ${len} out of range`);
    // Checked above: at most MAX_OFT_HEADER bytes are ever held.
    this.header = Buffer.alloc(len);
    this.head6.copy(this.header, 0);
    this.st = St.Head;
  }

  /** A rendezvous proxy frame before the OFT2 data: skipped, its size checked first. */
  private proxyFrame(): void {
    const total = this.head6.readUInt16BE(0) + 2;
    if (total < 12 || total > MAX_PROXY_FRAME) return this.fail(`rendezvous proxy frame length ${total} out of range`);
    if (this.head6.readUInt16BE(4) === PROXY_ERROR) return this.fail('rendezvous proxy error frame: the proxy refused the session');
    this.proxyFrames++;
    this.remaining = total - 6;
    this.st = St.Proxy;
  }

  private endHeader(h: Buffer): void {
    this.header = null;
    const type = h.readUInt16BE(6);
    if (type !== OFT_PROMPT) return this.fail(`OFT2 type 0x${type.toString(16).padStart(4, '0')} where the sender's prompt was expected`);
    if (h.readUInt16BE(16) !== 0 || h.readUInt16BE(18) !== 0) return this.fail('OFT2 encrypted or compressed data');
    const size = h.readUInt32BE(32);
    this.promptsRead++;
    this.filesLeft = h.readUInt16BE(22);
    const name = decodeName(h.subarray(OFT_FIXED), h.readUInt16BE(188));
    this.declared = name.length > 0 ? { name, size } : { size };
    this.remaining = size;
    this.st = size === 0 ? St.Done : size >= PEEK ? St.Peek : St.Data;
  }

  /** The first data bytes: a resume accept ('OFT2' + 0x0106) instead of data fails the extraction. */
  private peekAt(chunk: Buffer, p: number, out: Buffer[]): number {
    if (this.peek === null) {
      if (chunk[p] !== 0x4f) {
        this.st = St.Data;
        return p;
      }
      this.peek = Buffer.alloc(PEEK);
    }
    while (p < chunk.length && this.peekGot < PEEK) {
      const b = chunk[p] as number;
      this.peek[this.peekGot++] = b;
      p++;
      if (this.peekGot <= 4 && b !== ((OFT_MAGIC >>> (8 * (4 - this.peekGot))) & 0xff)) return this.releasePeek(p, out);
    }
    if (this.peekGot < PEEK) return p;
    if (this.peek.readUInt16BE(6) === OFT_RESUME_ACCEPT) {
      this.fail('OFT2 resumed transfer: the data does not start at 0');
      return chunk.length;
    }
    return this.releasePeek(p, out);
  }

  /** What the peek held is file data after all. */
  private releasePeek(p: number, out: Buffer[]): number {
    const held = (this.peek as Buffer).subarray(0, this.peekGot);
    out.push(Buffer.from(held));
    this.remaining -= held.length;
    this.peek = null;
    this.st = this.remaining === 0 ? St.Done : St.Data;
    return p;
  }
}
