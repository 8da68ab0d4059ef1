// Reads an ICAP body up to a limit without ever holding more than the limit
// (plus one chunk). Past the limit it stops reading and leaves the stream
// alone: the ICAP server still holds what was handed out (its replay buffer),
// so an allow verdict can still echo the whole body.
import type { Readable } from 'node:stream';

export type BodyRead = { over: false; bytes: Buffer } | { over: true; seen: number };

export function readBounded(body: Readable, limit: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (c: Buffer): void => {
      total += c.length;
      if (total > limit) {
        body.pause();
        cleanup();
        chunks.length = 0;
        resolve({ over: true, seen: total });
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ over: false, bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total) });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('ICAP body closed before its end'));
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}
