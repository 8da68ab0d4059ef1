// Parses an ICAP server's RESPMOD answer as a state machine over chunks:
// ICAP head -> encapsulated HTTP head -> chunked body, every part bounded
// before it is buffered. 204 = clean; 200 with X-Infection-Found /
// X-Virus-ID / X-Violations-Found, a changed HTTP status or a replaced body
// = infected. The body is only hashed (never kept) to tell "echoed" from
// "replaced".
import { createHash, type Hash } from 'node:crypto';
import { ScanError, type Verdict } from './scanner';

export interface IcapHead {
  status: number;
  headers: Map<string, string>;
}

/** Splits an ICAP/HTTP head into status and lower-cased headers (folded lines joined with "\n"). */
export function parseHead(text: string, proto: 'ICAP' | 'HTTP'): IcapHead {
  const lines = text.split('\r\n');
  const m = new RegExp(`^${proto}/1\\.[01] (\\d{3})(?: .*)?$`).exec(lines[0] ?? '');
  if (!m) throw new ScanError(`icap: bad ${proto} status line: ${(lines[0] ?? '').slice(0, 100)}`, 'protocol');
  const headers = new Map<string, string>();
  let last: string | null = null;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== null) {
      headers.set(last, `${headers.get(last) ?? ''}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ScanError(`icap: bad header line: ${line.slice(0, 100)}`, 'protocol');
    last = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(last, headers.has(last) ? `${headers.get(last) ?? ''}, ${value}` : value);
  }
  return { status: Number(m[1]), headers };
}

/** The signature an ICAP AV server reports in its headers, if any. */
export function infectionFromHeaders(h: Map<string, string>): string | null {
  const found = h.get('x-infection-found');
  if (found !== undefined) {
    const threat = /Threat=([^;]+);?/i.exec(found);
    return threat ? (threat[1] as string).trim() : found.trim() || 'unknown';
  }
  const id = h.get('x-virus-id');
  if (id !== undefined && id.trim() !== '') return id.trim();
  const v = h.get('x-violations-found');
  if (v !== undefined) {
    // "count \n filename \n threat \n id \n resolution" (c-icap, Symantec style)
    const parts = v.split('\n').map((s) => s.trim());
    if (Number(parts[0]) > 0 || parts.length > 1) return parts[2] || parts[1] || 'unknown';
  }
  return null;
}

type State = 'icap-head' | 'http-head' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'done';

export class IcapReplyParser {
  private state: State = 'icap-head';
  private buf: Buffer = Buffer.alloc(0);
  private httpHeadLen = 0;
  private hasBody = false;
  private remaining = 0;
  private bodyBytes = 0;
  private hash: Hash | null = null;
  private result: Verdict | null = null;
  /** ICAP head, once read (for ISTag and logs). */
  head: IcapHead | null = null;

  constructor(
    private readonly expected: { sha256: string; size: number },
    private readonly maxHeadBytes: number,
  ) {}

  get verdict(): Verdict | null {
    return this.result;
  }

  /** Feeds bytes; returns the verdict once known (further bytes are ignored). Throws ScanError. */
  push(chunk: Buffer): Verdict | null {
    if (this.state === 'done') return this.result;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const state: State = this.state;
      const len = this.buf.length;
      this.step();
      const now = this.state as State;
      if (now === 'done' || (now === state && this.buf.length === len)) break;
    }
    return this.result;
  }

  private finish(v: Verdict): void {
    this.result = v;
    this.state = 'done';
    this.buf = Buffer.alloc(0);
  }

  /** Index of "\r\n\r\n" within the buffer, checking the size limit before buffering on. */
  private headEnd(what: string): number {
    const i = this.buf.indexOf('\r\n\r\n');
    if (i < 0 && this.buf.length > this.maxHeadBytes) throw new ScanError(`icap: ${what} longer than ${this.maxHeadBytes} bytes`, 'protocol');
    if (i + 4 > this.maxHeadBytes) throw new ScanError(`icap: ${what} longer than ${this.maxHeadBytes} bytes`, 'protocol');
    return i;
  }

  private step(): void {
    switch (this.state) {
      case 'icap-head': {
        const i = this.headEnd('ICAP head');
        if (i < 0) return;
        const head = parseHead(this.buf.subarray(0, i).toString('latin1'), 'ICAP');
        this.buf = this.buf.subarray(i + 4);
        if (head.status === 100) return; // interim; the real answer follows
        this.head = head;
        if (head.status === 204) return this.finish({ status: 'clean' });
        if (head.status !== 200) throw new ScanError(`icap: server answered ${head.status}`, 'protocol');
        const sig = infectionFromHeaders(head.headers);
        if (sig !== null) return this.finish({ status: 'infected', signature: sig });
        const enc = head.headers.get('encapsulated') ?? '';
        const resHdr = /res-hdr=(\d+)/.exec(enc);
        const body = /(res-body|null-body)=(\d+)/.exec(enc);
        if (!resHdr || !body) throw new ScanError(`icap: 200 without res-hdr in Encapsulated: ${enc.slice(0, 100)}`, 'protocol');
        this.httpHeadLen = Number(body[2]) - Number(resHdr[1]);
        this.hasBody = body[1] === 'res-body';
        if (this.httpHeadLen <= 0 || this.httpHeadLen > this.maxHeadBytes) throw new ScanError('icap: bad Encapsulated offsets', 'protocol');
        this.state = 'http-head';
        return;
      }
      case 'http-head': {
        if (this.buf.length < this.httpHeadLen) return;
        const http = parseHead(this.buf.subarray(0, this.httpHeadLen).toString('latin1').replace(/\r\n\r\n$/, ''), 'HTTP');
        this.buf = this.buf.subarray(this.httpHeadLen);
        if (http.status !== 200) return this.finish({ status: 'infected', signature: `icap: response replaced (HTTP ${http.status})` });
        if (!this.hasBody) {
          return this.finish(this.expected.size === 0 ? { status: 'clean' } : { status: 'infected', signature: 'icap: body removed' });
        }
        this.hash = createHash('sha256');
        this.state = 'chunk-size';
        return;
      }
      case 'chunk-size': {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) {
          if (this.buf.length > 1024) throw new ScanError('icap: chunk size line too long', 'protocol');
          return;
        }
        const m = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(this.buf.subarray(0, i).toString('latin1'));
        if (!m) throw new ScanError('icap: bad chunk size', 'protocol');
        this.remaining = parseInt(m[1] as string, 16);
        this.buf = this.buf.subarray(i + 2);
        this.state = this.remaining === 0 ? 'trailer' : 'chunk-data';
        return;
      }
      case 'chunk-data': {
        const n = Math.min(this.remaining, this.buf.length);
        if (n === 0) return;
        this.hash?.update(this.buf.subarray(0, n));
        this.bodyBytes += n;
        this.remaining -= n;
        this.buf = this.buf.subarray(n);
        // A body larger than what we sent is a replacement: no need to read on.
        if (this.bodyBytes > this.expected.size) return this.finish({ status: 'infected', signature: 'icap: body replaced' });
        if (this.remaining === 0) this.state = 'chunk-end';
        return;
      }
      case 'chunk-end': {
        if (this.buf.length < 2) return;
        if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) throw new ScanError('icap: chunk not followed by CRLF', 'protocol');
        this.buf = this.buf.subarray(2);
        this.state = 'chunk-size';
        return;
      }
      case 'trailer': {
        // "0\r\n\r\n" (the size line consumed "0\r\n"); ICAP has no trailers in practice.
        const same = this.bodyBytes === this.expected.size && this.hash?.digest('hex') === this.expected.sha256;
        return this.finish(same ? { status: 'clean' } : { status: 'infected', signature: 'icap: body replaced' });
      }
      case 'done':
        return;
    }
  }
}
