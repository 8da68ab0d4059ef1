// libpcap file reader: an explicit state machine (global header -> record
// header -> record data) over a ChunkQueue. Both byte orders, microsecond
// (a1b2c3d4) and nanosecond (a1b23c4d) magics. A record whose declared length
// exceeds the limit is rejected before any of its bytes are waited for.
import type { ChunkQueue } from './chunks';
import { CaptureFormatError, type CaptureReaderLimits, type CaptureSink } from './types';

const enum State {
  Header,
  RecordHeader,
  RecordData,
}

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

export class PcapReader {
  private state = State.Header;
  private le = true;
  private nanos = false;
  private linkType = 0;
  private frame = 0;
  // Current record header fields.
  private recOffset = 0;
  private sec = 0;
  private frac = 0;
  private capLen = 0;
  private origLen = 0;

  constructor(
    private readonly q: ChunkQueue,
    private readonly sink: CaptureSink,
    private readonly limits: CaptureReaderLimits,
  ) {}

  /** Parses whatever complete units the queue holds. Throws CaptureFormatError. */
  run(): void {
    for (;;) {
      switch (this.state) {
        case State.Header:
          if (this.q.length < 24) return;
          this.readHeader(this.q.take(24));
          break;
        case State.RecordHeader: {
          if (this.q.length < 16) return;
          this.recOffset = this.q.offset;
          const h = this.q.take(16);
          this.sec = this.le ? h.readUInt32LE(0) : h.readUInt32BE(0);
          this.frac = this.le ? h.readUInt32LE(4) : h.readUInt32BE(4);
          this.capLen = this.le ? h.readUInt32LE(8) : h.readUInt32BE(8);
          this.origLen = this.le ? h.readUInt32LE(12) : h.readUInt32BE(12);
          if (this.capLen > this.limits.maxRecordBytes) {
            throw new CaptureFormatError(
              this.recOffset,
              `pcap record ${this.frame + 1} declares ${this.capLen} captured bytes (limit ${this.limits.maxRecordBytes}): corrupt record header`,
            );
          }
          this.state = State.RecordData;
          break;
        }
        case State.RecordData: {
          if (this.q.length < this.capLen) return;
          const data = this.q.take(this.capLen);
          this.frame++;
          const nsec = this.nanos ? this.frac % 1e9 : (this.frac % 1e6) * 1000;
          this.sink.packet({
            frame: this.frame,
            offset: this.recOffset,
            linkType: this.linkType,
            sec: this.sec,
            nsec,
            data,
            origLen: this.origLen,
          });
          this.state = State.RecordHeader;
          break;
        }
      }
    }
  }

  /** End of file: a partial record is reported, not fatal. */
  end(): void {
    if (this.state === State.Header) {
      throw new CaptureFormatError(this.q.offset, `pcap global header truncated (${this.q.length} of 24 bytes)`);
    }
    if (this.q.length > 0 || this.state === State.RecordData) {
      const at = this.state === State.RecordData ? this.recOffset : this.q.offset;
      this.sink.warn(`offset ${at}: capture truncated inside record ${this.frame + 1}; ${this.frame} complete records read`);
    }
  }

  private readHeader(h: Buffer): void {
    const magicLE = h.readUInt32LE(0);
    const magicBE = h.readUInt32BE(0);
    if (magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS) {
      this.le = true;
      this.nanos = magicLE === PCAP_MAGIC_NS;
    } else if (magicBE === PCAP_MAGIC_US || magicBE === PCAP_MAGIC_NS) {
      this.le = false;
      this.nanos = magicBE === PCAP_MAGIC_NS;
    } else {
      throw new CaptureFormatError(0, `not a pcap file (magic ${h.subarray(0, 4).toString('hex')})`);
    }
    // The upper bits of the link-type field carry FCS flags (pcap-linktype).
    this.linkType = (this.le ? h.readUInt32LE(20) : h.readUInt32BE(20)) & 0x0fffffff;
    this.state = State.RecordHeader;
  }
}
