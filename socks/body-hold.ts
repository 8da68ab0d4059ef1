// Collects one message body whole for a ForwardBodyInspector, with the size
// limit checked before a chunk is kept (never an unbounded buffer).
import type { Readable } from 'node:stream';

export type HoldResult = { ok: true; body: Buffer } | { ok: false; why: 'too-large' | 'aborted' };

export function holdBody(src: Readable, max: number, done: (r: HoldResult) => void): void {
  const parts: Buffer[] = [];
  let len = 0;
  let finished = false;
  const finish = (r: HoldResult): void => {
    if (finished) return;
    finished = true;
    src.removeListener('data', onData);
    src.removeListener('end', onEnd);
    src.removeListener('close', onClose);
    done(r);
  };
  const onData = (chunk: Buffer): void => {
    if (len + chunk.length > max) {
      parts.length = 0;
      finish({ ok: false, why: 'too-large' });
      return;
    }
    parts.push(chunk);
    len += chunk.length;
  };
  const onEnd = (): void => finish({ ok: true, body: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, len) });
  // 'close' without 'end': the peer went away mid-body.
  const onClose = (): void => finish({ ok: false, why: 'aborted' });
  src.on('data', onData);
  src.on('end', onEnd);
  src.on('close', onClose);
}
