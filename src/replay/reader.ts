// Reads a pcap or pcapng file as a stream of bounded chunks and hands each
// frame to a sink. The format is chosen by the first four bytes; the chosen
// reader is an explicit state machine that only ever buffers one record.
import { createReadStream } from 'node:fs';
import { ChunkQueue } from './chunks';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, PcapReader } from './pcap';
import { PCAPNG_SHB, PcapngReader } from './pcapng';
import { CaptureFormatError, DEFAULT_READER_LIMITS, type CaptureReaderLimits, type CaptureSink } from './types';

export type CaptureFormat = 'pcap' | 'pcapng';

/** Feeds bytes in any chunking; throws CaptureFormatError on malformed input. */
export class CaptureParser {
  private readonly q = new ChunkQueue();
  private reader: PcapReader | PcapngReader | null = null;
  format: CaptureFormat | null = null;

  constructor(
    private readonly sink: CaptureSink,
    private readonly limits: CaptureReaderLimits = DEFAULT_READER_LIMITS,
  ) {}

  push(chunk: Buffer): void {
    this.q.push(chunk);
    if (!this.reader) {
      if (this.q.length < 4) return;
      const m = this.q.peek(4);
      const le = m.readUInt32LE(0);
      const be = m.readUInt32BE(0);
      if (le === PCAPNG_SHB) {
        this.format = 'pcapng';
        this.reader = new PcapngReader(this.q, this.sink, this.limits);
      } else if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS || be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) {
        this.format = 'pcap';
        this.reader = new PcapReader(this.q, this.sink, this.limits);
      } else {
        throw new CaptureFormatError(0, `neither pcap nor pcapng (first bytes ${m.toString('hex')})`);
      }
    }
    this.reader.run();
  }

  end(): void {
    if (!this.reader) throw new CaptureFormatError(0, `file too short to be a capture (${this.q.length} bytes)`);
    this.reader.end();
  }
}

/** Bytes read from the file per chunk: bounds what sits in memory between records. */
export const READ_CHUNK_BYTES = 64 * 1024;

/**
 * Streams `file` through a CaptureParser. Rejects with CaptureFormatError
 * (message prefixed with the file name) on malformed input, or with the fs
 * error when the file cannot be read.
 */
export async function readCapture(file: string, sink: CaptureSink, limits: CaptureReaderLimits = DEFAULT_READER_LIMITS): Promise<CaptureFormat> {
  const parser = new CaptureParser(sink, limits);
  const stream = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  try {
    for await (const chunk of stream) parser.push(chunk as Buffer);
    parser.end();
  } catch (err) {
    if (err instanceof CaptureFormatError) throw new CaptureFormatError(err.offset, err.detail, file);
    throw err;
  } finally {
    stream.destroy();
  }
  return parser.format as CaptureFormat;
}
