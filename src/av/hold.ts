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

/**
 * Bytes queued for the disk before reading pauses. Reading must not stop on
 * every write: Squid 5.7 (measured) treats a full 64 KiB client request
 * buffer as the client closing (a zero-size read returning 0) and resets a
 * large upload whenever the ICAP side stalls, so the spool writes behind.
 */
const WRITE_BEHIND_BYTES = 4 * 1024 * 1024;

export type HoldResult = { kind: 'held'; content: SpooledContent } | { kind: 'over'; seen: number };

export function holdBody(stream: Readable, opts: HoldOptions): Promise<HoldResult> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    let chunks: Buffer[] | null = [];
    let fh: fs.promises.FileHandle | null = null;
    let file: string | null = null;
    /** The disk writes in progress (one batch at a time). */
    let writing: Promise<void> = Promise.resolve();
    let flushing = false;
    /** Chunks waiting for the disk, and their size. */
    let queue: Buffer[] = [];
    let queued = 0;
    let paused = false;
    /** A disk write failed (seen by onEnd when the body had already ended). */
    let writeErr: Error | null = null;
    let done = false;

    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    /** Stops listening, lets the write in progress settle, drops the spool file, then settles the promise. */
    const discard = (settle: () => void): void => {
      done = true;
      cleanup();
      const f = file;
      void writing
        .catch(() => undefined)
        .then(async () => {
          if (fh) await fh.close().catch(() => undefined);
          if (f !== null) await fs.promises.rm(f, { force: true });
        })
        .finally(settle);
    };
    const fail = (err: Error): void => {
      if (done) return;
      discard(() => reject(err));
    };
    /** Writes queued batches until the queue is empty; reading resumes once it is below the mark. */
    const flush = async (): Promise<void> => {
      if (fh === null) {
        await fs.promises.mkdir(opts.dir, { recursive: true, mode: 0o700 });
        file = tempName(opts.dir);
        fh = await fs.promises.open(file, 'wx', 0o600);
      }
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        queued = 0;
        if (paused && !done) {
          paused = false;
          stream.resume();
        }
        // writev takes at most IOV_MAX (1024) buffers per call.
        for (let i = 0; i < batch.length; i += 1024) await fh.writev(batch.slice(i, i + 1024));
      }
    };
    const onData = (chunk: Buffer): void => {
      if (done) return;
      if (size + chunk.length > opts.maxBytes) {
        // Stop here: nothing past the limit is read or kept.
        stream.pause();
        const seen = size + chunk.length;
        discard(() => resolve({ kind: 'over', seen }));
        return;
      }
      opts.observe?.(chunk, size);
      size += chunk.length;
      hash.update(chunk);
      if (fh === null && size <= opts.thresholdBytes) {
        chunks?.push(chunk);
        return;
      }
      if (chunks !== null) {
        queue = chunks;
        for (const c of chunks) queued += c.length;
        chunks = null;
      }
      queue.push(chunk);
      queued += chunk.length;
      // The queue bound is the backpressure: the body is not read much faster than the disk takes it.
      if (queued >= WRITE_BEHIND_BYTES && !paused) {
        paused = true;
        stream.pause();
      }
      if (flushing) return;
      flushing = true;
      writing = flush().then(
        () => {
          flushing = false;
        },
        (err: unknown) => {
          flushing = false;
          writeErr = err instanceof Error ? err : new Error(String(err));
          fail(writeErr);
        },
      );
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      cleanup();
      void writing.then(async () => {
        try {
          if (fh) await fh.close();
          if (writeErr !== null) throw writeErr;
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
