// The decoded body as seen by a service handler. Pulls from the wire only
// when read (Readable backpressure reaches the socket through the parser).
import { Readable } from 'node:stream';

export interface BodySource {
  /** The consumer wants more bytes than the stream holds. */
  bodyWanted(): void;
}

export class IcapBody extends Readable {
  /** _read was called and no push has answered it yet. */
  private wanting = false;

  constructor(
    highWaterMark: number,
    private readonly source: BodySource,
  ) {
    super({ highWaterMark });
  }

  override _read(): void {
    this.wanting = true;
    this.source.bodyWanted();
  }

  // Node calls _read while bytes are still buffered; the preview's 100 Continue
  // must wait until the consumer has really drained them, so re-check on read.
  override read(size?: number): unknown {
    const r: unknown = super.read(size);
    if (this.wanting && this.readableLength === 0) this.source.bodyWanted();
    return r;
  }

  /** Called by the transaction when it pushes, answering the pending _read. */
  answered(): void {
    this.wanting = false;
  }

  isWanting(): boolean {
    return this.wanting;
  }
}
