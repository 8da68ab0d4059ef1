// Incremental base64 decoding of a stream of text pieces (XEP-0047 <data/>
// payloads): a quartet may be split across stanzas, and every piece may end
// with its own padding, which Node's decoder would treat as the end of all
// input. Keeps at most 3 characters between pieces.
const NOT_B64 = /[^A-Za-z0-9+/=]/;
const NOT_B64_G = /[^A-Za-z0-9+/=]/g;
const NOT_B64_OR_SPACE = /[^A-Za-z0-9+/=\s]/;

export class Base64Stream {
  private carry = '';
  /** Characters that are neither base64 nor whitespace were seen (they are skipped). */
  invalid = false;

  /** Decodes every quartet completed by `text`; the rest waits for the next piece. */
  push(text: string): Buffer[] {
    let s = this.carry.length > 0 ? this.carry + text : text;
    if (NOT_B64.test(s)) {
      if (NOT_B64_OR_SPACE.test(s)) this.invalid = true;
      s = s.replace(NOT_B64_G, '');
    }
    const out: Buffer[] = [];
    let i = 0;
    // A quartet holding '=' ends one encoded run: decode up to it on its own.
    for (let eq = s.indexOf('='); eq >= 0; eq = s.indexOf('=', i)) {
      const qEnd = i + (Math.floor((eq - i) / 4) + 1) * 4;
      if (qEnd > s.length) break;
      const b = Buffer.from(s.slice(i, qEnd), 'base64');
      if (b.length > 0) out.push(b);
      i = qEnd;
    }
    const full = i + Math.floor((s.length - i) / 4) * 4;
    if (full > i) out.push(Buffer.from(i === 0 && full === s.length ? s : s.slice(i, full), 'base64'));
    this.carry = s.slice(full);
    return out;
  }

  /** Characters left over that do not make a quartet (a truncated stream). */
  get pending(): number {
    return this.carry.length;
  }

  /** Decodes a trailing unpadded 2-3 character group, as lenient decoders do. */
  flush(): Buffer[] {
    const s = this.carry;
    this.carry = '';
    if (s.length < 2 || s.includes('=')) return [];
    return [Buffer.from(s, 'base64')];
  }
}
