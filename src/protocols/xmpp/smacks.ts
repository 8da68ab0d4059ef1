// XEP-0198 stream management across a gateway that removes or adds stanzas.
// For one direction (sender -> receiver) the sender counts what it sent and
// the receiver acks what it handled (<a h='N'/>). When the gateway suppresses
// a stanza the sender's count runs ahead; when it injects one (an error
// stanza) the receiver's runs ahead. Each change is a breakpoint
// (receiver count -> offset); an ack h from the receiver is mapped to the
// sender's numbering with the offset in force at h, so both peers' counters
// stay valid. Breakpoints older than the last ack are pruned.

const MAX_BREAKPOINTS = 4096;

export class AckMapper {
  /** Whether counting has started for this direction (<enable/>/<enabled/> seen). */
  active = false;
  /** Stanzas the receiver has been given so far (its own count). */
  received = 0;
  private readonly at: number[] = [];
  private readonly offset: number[] = [];
  private current = 0;

  start(): void {
    this.active = true;
    this.received = 0;
    this.at.length = 0;
    this.offset.length = 0;
    this.current = 0;
  }

  /** A stanza reached the receiver (forwarded, substituted or injected by us). */
  delivered(): void {
    if (this.active) this.received++;
  }

  /** The sender sent a stanza the receiver never got. False if the table is full. */
  suppressed(): boolean {
    return this.shift(this.received, +1);
  }

  /** We gave the receiver a stanza its sender never sent (call after delivered()). */
  injected(): boolean {
    return this.shift(this.received, -1);
  }

  /** Receiver's h -> sender's h. */
  map(h: number): number {
    let off = 0;
    let keep = 0;
    for (let k = 0; k < this.at.length; k++) {
      if ((this.at[k] as number) <= h) {
        off = this.offset[k] as number;
        keep = k;
      } else break;
    }
    // Acks are cumulative: breakpoints before the one in force are done with.
    if (keep > 0) {
      this.at.splice(0, keep);
      this.offset.splice(0, keep);
    }
    return Math.max(0, h + off);
  }

  /** A copy to carry on another connection (XEP-0198 resumption). */
  clone(): AckMapper {
    const c = new AckMapper();
    c.active = this.active;
    c.received = this.received;
    c.at.push(...this.at);
    c.offset.push(...this.offset);
    c.current = this.current;
    return c;
  }

  /**
   * On resumption the receiver states how many it handled (`count`): what we
   * delivered beyond that was lost with the old connection and its sender
   * re-sends it, so changes recorded past `count` are undone (the re-sent
   * stanzas are inspected, and suppressed or answered, again).
   */
  rewind(count: number): void {
    this.active = true;
    this.received = count;
    let n = this.at.length;
    while (n > 0 && (this.at[n - 1] as number) > count) n--;
    this.at.length = n;
    this.offset.length = n;
    this.current = n > 0 ? (this.offset[n - 1] as number) : 0;
  }

  private shift(at: number, delta: number): boolean {
    if (!this.active) return true;
    if (this.at.length >= MAX_BREAKPOINTS) return false;
    this.current += delta;
    const last = this.at.length - 1;
    if (last >= 0 && this.at[last] === at) this.offset[last] = this.current;
    else {
      this.at.push(at);
      this.offset.push(this.current);
    }
    return true;
  }
}
