// pcapng reader: an explicit state machine (block header -> block body) over
// a ChunkQueue. Handles SHB (byte order per section), IDB (per-interface link
// type, if_tsresol, if_tsoffset), EPB, SPB and the obsolete OPB; other block
// types are skipped. A block's declared length is checked against the limit
// before its bytes are waited for, and its trailing length must match.
import type { ChunkQueue } from './chunks';
import { CaptureFormatError, type CaptureReaderLimits, type CaptureSink } from './types';

export const PCAPNG_SHB = 0x0a0d0d0a;
const BOM = 0x1a2b3c4d;
const IDB = 1;
const OPB = 2;
const SPB = 3;
const EPB = 6;

const enum State {
  BlockHeader,
  BlockBody,
}

interface Iface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second as (base, exponent): 10^6 by default. */
  resolBase: 2 | 10;
  resolExp: number;
  offsetSec: number;
}

export class PcapngReader {
  private state = State.BlockHeader;
  private le = true;
  private sawShb = false;
  private ifaces: Iface[] = [];
  private frame = 0;
  private blockOffset = 0;
  private blockLen = 0;
  private warnedIfaces = 0;

  constructor(
    private readonly q: ChunkQueue,
    private readonly sink: CaptureSink,
    private readonly limits: CaptureReaderLimits,
  ) {}

  run(): void {
    for (;;) {
      if (this.state === State.BlockHeader) {
        if (this.q.length < 12) return;
        this.blockOffset = this.q.offset;
        const h = this.q.peek(12);
        const type = h.readUInt32LE(0); // the SHB type is a byte-order palindrome
        if (type === PCAPNG_SHB) {
          const bom = h.readUInt32LE(8);
          if (bom === BOM) this.le = true;
          else if (h.readUInt32BE(8) === BOM) this.le = false;
          else throw this.err(`section header byte-order magic is ${h.subarray(8, 12).toString('hex')}, expected 1a2b3c4d`);
          this.sawShb = true;
        } else if (!this.sawShb) {
          throw this.err('pcapng file does not start with a section header block');
        }
        const len = this.le ? h.readUInt32LE(4) : h.readUInt32BE(4);
        if (len < 12 || len % 4 !== 0) throw this.err(`block total length ${len} is invalid (at least 12, a multiple of 4)`);
        if (len > this.limits.maxRecordBytes) {
          throw this.err(`block declares ${len} bytes (limit ${this.limits.maxRecordBytes}): corrupt block header`);
        }
        this.blockLen = len;
        this.state = State.BlockBody;
      } else {
        if (this.q.length < this.blockLen) return;
        const b = this.q.take(this.blockLen);
        this.state = State.BlockHeader;
        const trailer = this.u32(b, this.blockLen - 4);
        if (trailer !== this.blockLen) {
          throw this.err(`block trailing length ${trailer} differs from its leading length ${this.blockLen}`);
        }
        this.block(b);
      }
    }
  }

  end(): void {
    if (!this.sawShb) throw new CaptureFormatError(this.q.offset, `pcapng section header truncated (${this.q.length} bytes)`);
    if (this.q.length > 0) {
      this.sink.warn(`offset ${this.blockOffset}: capture truncated inside a block; ${this.frame} complete packets read`);
    }
  }

  private err(detail: string): CaptureFormatError {
    return new CaptureFormatError(this.blockOffset, detail);
  }

  private u32(b: Buffer, at: number): number {
    return this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }

  private u16(b: Buffer, at: number): number {
    return this.le ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }

  private block(b: Buffer): void {
    const type = this.u32(b, 0);
    const end = b.length - 4;
    switch (type) {
      case PCAPNG_SHB:
        if (b.length < 28) throw this.err(`section header block too short (${b.length} bytes)`);
        this.ifaces = [];
        return;
      case IDB:
        if (b.length < 20) throw this.err(`interface description block too short (${b.length} bytes)`);
        this.ifaces.push(this.iface(b, end));
        return;
      case EPB: {
        if (b.length < 32) throw this.err(`enhanced packet block too short (${b.length} bytes)`);
        const capLen = this.u32(b, 20);
        if (28 + capLen > end) throw this.err(`enhanced packet block captured length ${capLen} exceeds the block`);
        this.emitAt(this.u32(b, 8), this.u32(b, 12), this.u32(b, 16), b.subarray(28, 28 + capLen), this.u32(b, 24));
        return;
      }
      case OPB: {
        if (b.length < 32) throw this.err(`packet block too short (${b.length} bytes)`);
        const capLen = this.u32(b, 20);
        if (28 + capLen > end) throw this.err(`packet block captured length ${capLen} exceeds the block`);
        this.emitAt(this.u16(b, 8), this.u32(b, 12), this.u32(b, 16), b.subarray(28, 28 + capLen), this.u32(b, 24));
        return;
      }
      case SPB: {
        if (b.length < 16) throw this.err(`simple packet block too short (${b.length} bytes)`);
        const origLen = this.u32(b, 8);
        const snap = this.ifaces[0]?.snapLen ?? 0;
        let capLen = Math.min(origLen, end - 12);
        if (snap > 0) capLen = Math.min(capLen, snap);
        // SPBs carry no timestamp.
        this.emitAt(0, 0, 0, b.subarray(12, 12 + capLen), origLen);
        return;
      }
      default:
        return; // name resolution, statistics, custom blocks: nothing to replay
    }
  }

  private iface(b: Buffer, end: number): Iface {
    const f: Iface = { linkType: this.u16(b, 8), snapLen: this.u32(b, 12), resolBase: 10, resolExp: 6, offsetSec: 0 };
    let at = 16;
    while (at + 4 <= end) {
      const code = this.u16(b, at);
      const len = this.u16(b, at + 2);
      const v = at + 4;
      if (code === 0 || v + len > end) break;
      if (code === 9 && len >= 1) {
        const r = b[v] as number;
        f.resolBase = r & 0x80 ? 2 : 10;
        f.resolExp = r & 0x7f;
      } else if (code === 14 && len >= 8) {
        const hi = this.le ? b.readInt32LE(v + 4) : b.readInt32BE(v);
        const lo = this.le ? b.readUInt32LE(v) : b.readUInt32BE(v + 4);
        f.offsetSec = hi * 4294967296 + lo;
      }
      at = v + ((len + 3) & ~3);
    }
    return f;
  }

  private emitAt(ifId: number, hi: number, lo: number, data: Buffer, origLen: number): void {
    this.frame++;
    const f = this.ifaces[ifId];
    if (!f) {
      if (this.warnedIfaces++ < 10) this.sink.warn(`offset ${this.blockOffset}: packet ${this.frame} names undefined interface ${ifId}: skipped`);
      return;
    }
    const [sec, nsec] = toTime(f, hi, lo);
    this.sink.packet({ frame: this.frame, offset: this.blockOffset, linkType: f.linkType, sec: sec + f.offsetSec, nsec, data, origLen });
  }
}

/** 64-bit timestamp in interface units -> [seconds, nanoseconds]. */
function toTime(f: Iface, hi: number, lo: number): [number, number] {
  if (f.resolBase === 10 && f.resolExp <= 6) {
    // Fits a double exactly for any real date (< 2^53 microseconds).
    const units = hi * 4294967296 + lo;
    const per = 10 ** f.resolExp;
    const sec = Math.floor(units / per);
    return [sec, Math.round((units - sec * per) * (1e9 / per))];
  }
  const units = (BigInt(hi) << 32n) | BigInt(lo);
  const per = f.resolBase === 10 ? 10n ** BigInt(f.resolExp) : 1n << BigInt(Math.min(f.resolExp, 63));
  const sec = units / per;
  const nsec = ((units % per) * 1_000_000_000n) / per;
  return [Number(sec), Number(nsec)];
}
