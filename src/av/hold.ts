// Holds a transfer body that must be scanned and then passed on whole: the
// ICAP door can only echo what it still has, and a 50 MiB upload is far past
// its replay buffer. The body is hashed as it streams, kept in memory up to
// the spool threshold and on disk past it (never whole in memory), and an
// observer sees every chunk once (the multipart indexer). Past `maxBytes`
// reading stops and the stream is left paused, unread: the caller answers
// without it (the ICAP server drains or closes).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { SpooledContent, tempName } from './spool';

export interface HoldOptions {
  thresholdBytes: number;
  maxBytes: number;
  dir: string;
  /** Sees each chunk, in order, with its offset in the body. Must not keep it. */
  observe?: (chunk: Buffer, offset: number) => void;
}

export type HoldResult = { kind: 'held'; content: SpooledContent } | { kind: 'over'; seen: number };

export function holdBody(stream: Readable, opts: HoldOptions): Promise<HoldResult> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    let chunks: Buffer[] | null = [];
    let fh: fs.promises.FileHandle | null = null;
    let file: string | null = null;
    /** The disk write in progress; the stream is paused until it settles. */
    let writing: Promise<void> = Promise.resolve();
    let done = false;

    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      cleanup();
      const f = file;
      void writing
        .catch(() => undefined)
        .then(async () => {
          if (fh) await fh.close().catch(() => undefined);
          if (f !== null) await fs.promises.rm(f, { force: true });
        })
        .finally(() => reject(err));
    };
    const toDisk = async (first: Buffer[], chunk: Buffer): Promise<void> => {
      if (fh === null) {
        await fs.promises.mkdir(opts.dir, { recursive: true, mode: 0o700 });
        file = tempName(opts.dir);
        fh = await fs.promises.open(file, 'wx', 0o600);
        if (first.length > 0) await fh.writev(first);
      }
      await fh.write(chunk);
    };
    const onData = (chunk: Buffer): void => {
      if (done) return;
      if (size + chunk.length > opts.maxBytes) {
        // Stop here: nothing past the limit is read or kept.
        done = true;
        stream.pause();
        cleanup();
        const f = file;
        void writing
          .catch(() => undefined)
          .then(async () => {
            if (fh) await fh.close().catch(() => undefined);
            if (f !== null) await fs.promises.rm(f, { force: true });
          })
          .finally(() => resolve({ kind: 'over', seen: size + chunk.length }));
        return;
      }
      opts.observe?.(chunk, size);
      size += chunk.length;
      hash.update(chunk);
      if (fh === null && size <= opts.thresholdBytes) {
        chunks?.push(chunk);
        return;
      }
      // Awaiting each write is the backpressure: the body is not read faster than the disk takes it.
      const first = chunks ?? [];
      chunks = null;
      stream.pause();
      writing = toDisk(first, chunk).then(
        () => {
          if (!done) stream.resume();
        },
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      cleanup();
      void writing.then(async () => {
        try {
          if (fh) await fh.close();
          resolve({ kind: 'held', content: new SpooledContent(size, hash.digest('hex'), file === null ? chunks : null, file, opts.dir) });
        } catch (err) {
          if (file !== null) await fs.promises.rm(file, { force: true });
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    };
    const onError = (err: Error): void => fail(err);
    const onClose = (): void => fail(new Error('body closed before its end'));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}
