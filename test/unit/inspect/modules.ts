// Small protocols for the relay tests (real dissectors live in src/protocols/):
//  - "line": client-first, starts with "HELLO"; lines "MSG <text>" are
//    decided (block -> dropped + "BLOCKED <rule>\n" injected to the sender,
//    redact -> masked), "PASS" lets go (passthrough), "CLOSE" closes.
//  - "srv": server-first, the server's greeting starts with "SRVHELLO".
//  - "slow": says 'more' forever for heads starting with "ZZ".
import type { DissectorSession, ProtocolModule, SessionContext, SessionOutput, Side } from '../../../src/protocols/types';

class LineSession implements DissectorSession {
  passthrough = false;
  private readonly pending: [Buffer[], Buffer[]] = [[], []];
  private readonly pendingLen = [0, 0];
  pushes = 0;

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
  ) {}

  push(from: Side, chunk: Buffer): void {
    this.pushes++;
    const i = from === 'c2s' ? 0 : 1;
    if (from === 's2c') return this.out.forward(from, chunk);
    let start = 0;
    for (let p = chunk.indexOf(10); p >= 0 && !this.passthrough; p = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, p + 1);
      start = p + 1;
      const line = this.pendingLen[i] ? Buffer.concat([...this.pending[i], part]) : part;
      this.pending[i] = [];
      this.pendingLen[i] = 0;
      this.line(from, line);
      if (this.passthrough) {
        // Let go: what follows in this chunk is forwarded untouched.
        if (start < chunk.length) this.out.forward(from, chunk.subarray(start));
        return;
      }
    }
    if (start < chunk.length) {
      if (this.pendingLen[i] + chunk.length - start > this.ctx.options.maxUnitBytes) return this.out.close('line too long');
      this.pending[i].push(chunk.subarray(start));
      this.pendingLen[i] += chunk.length - start;
    }
  }

  private line(from: Side, line: Buffer): void {
    const s = line.toString('utf8');
    if (s.startsWith('PASS')) {
      this.out.forward(from, line);
      this.passthrough = true;
      return;
    }
    if (s.startsWith('CLOSE')) return this.out.close('client asked to close');
    if (!s.startsWith('MSG ')) return this.out.forward(from, line);
    const text = s.slice(4, -1);
    const v = this.ctx.decide({ kind: 'message', side: from, protocol: 'line', text, peer: 'bob' });
    if (v.action === 'block') return this.out.inject(from, Buffer.from(`BLOCKED ${v.rule}\n`));
    if (v.action === 'redact') return this.out.forward(from, Buffer.from(`MSG ${this.ctx.redact(text, v)}\n`));
    this.out.forward(from, line);
  }

  end(from: Side): void {
    const i = from === 'c2s' ? 0 : 1;
    for (const b of this.pending[i]) this.out.forward(from, b);
    this.pending[i] = [];
  }
}

export const sessions: LineSession[] = [];

export const lineModule: ProtocolModule = {
  name: 'line',
  probe(from, head) {
    if (from !== 'c2s') return 'no';
    const want = Buffer.from('HELLO');
    const n = Math.min(head.length, want.length);
    if (!head.subarray(0, n).equals(want.subarray(0, n))) return 'no';
    return head.length >= want.length ? 'match' : 'more';
  },
  create(ctx, out) {
    const s = new LineSession(ctx, out);
    sessions.push(s);
    return s;
  },
};

export const srvModule: ProtocolModule = {
  name: 'srv',
  probe(from, head) {
    if (from !== 's2c') return 'no';
    return head.subarray(0, 8).toString() === 'SRVHELLO'.slice(0, Math.min(8, head.length)) ? (head.length >= 8 ? 'match' : 'more') : 'no';
  },
  create(ctx, out) {
    let seen = false;
    return {
      passthrough: false,
      push(from: Side, chunk: Buffer) {
        if (from === 's2c' && !seen) {
          seen = true;
          ctx.decide({ kind: 'login', side: 's2c', protocol: 'srv', account: 'server-greeted' });
        }
        out.forward(from, chunk);
      },
      end() {},
    };
  },
};

export const slowModule: ProtocolModule & { maxHeadSeen: number } = {
  name: 'slow',
  maxHeadSeen: 0,
  probe(from, head) {
    slowModule.maxHeadSeen = Math.max(slowModule.maxHeadSeen, head.length);
    if (head[0] !== 0x5a) return 'no';
    return head.length < 2 || head[1] === 0x5a ? 'more' : 'no';
  },
  create() {
    throw new Error('never chosen');
  },
};
