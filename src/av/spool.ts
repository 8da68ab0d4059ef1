// Takes the content once, hashing it as it streams: up to the threshold in
// memory, past it in a temp file under <data_dir>/av-spool, so a large file
// is never held whole in memory. Past max bytes nothing is kept (the rest is
// only drained and counted) and the content is reported over the limit.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ScanSource } from './scanner';

export interface SpoolOptions {
  thresholdBytes: number;
  maxBytes: number;
  dir: string;
}

export type SpoolResult =
  | { kind: 'ok'; source: SpooledContent }
  | { kind: 'over_limit'; size: number; sha256: string };

export class SpooledContent implements ScanSource {
  private tmpFile: string | null;
  /** Further files derived from this content (a part written out for a command scanner). */
  private readonly extra: string[] = [];

  constructor(
    readonly size: number,
    readonly sha256: string,
    private readonly chunks: Buffer[] | null,
    private readonly file: string | null,
    readonly dir: string,
  ) {
    this.tmpFile = null;
  }

  get onDisk(): boolean {
    return this.file !== null;
  }

  open(): Readable {
    if (this.file !== null) return fs.createReadStream(this.file, { highWaterMark: 65_536 });
    return Readable.from(this.chunks ?? [], { objectMode: false });
  }

  /** Bytes [start, end) as a fresh stream (one multipart part of a held body). */
  openRange(start: number, end: number): Readable {
    if (end <= start) return Readable.from([], { objectMode: false });
    if (this.file !== null) return fs.createReadStream(this.file, { start, end: end - 1, highWaterMark: 65_536 });
    return Readable.from(sliceChunks(this.chunks ?? [], start, end), { objectMode: false });
  }

  async path(): Promise<string> {
    if (this.file !== null) return this.file;
    if (this.tmpFile === null) {
      const p = tempName(this.dir);
      await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.promises.writeFile(p, this.chunks ?? [], { mode: 0o600 });
      this.tmpFile = p;
    }
    return this.tmpFile;
  }

  /** Removes `file` with this content on dispose(). */
  adopt(file: string): void {
    this.extra.push(file);
  }

  async dispose(): Promise<void> {
    for (const p of [this.file, this.tmpFile, ...this.extra.splice(0)]) {
      if (p !== null) await fs.promises.rm(p, { force: true });
    }
    this.tmpFile = null;
  }
}

/** Views (no copies) of the chunks covering [start, end). */
function sliceChunks(chunks: Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of chunks) {
    const cEnd = at + c.length;
    if (cEnd > start && at < end) out.push(c.subarray(Math.max(0, start - at), Math.min(c.length, end - at)));
    at = cEnd;
    if (at >= end) break;
  }
  return out;
}

export function tempName(dir: string): string {
  return path.join(dir, `scan-${process.pid}-${randomBytes(8).toString('hex')}`);
}

export async function spool(content: Readable | Buffer, opts: SpoolOptions): Promise<SpoolResult> {
  const hash = createHash('sha256');
  if (Buffer.isBuffer(content)) {
    hash.update(content);
    const sha256 = hash.digest('hex');
    if (content.length > opts.maxBytes) return { kind: 'over_limit', size: content.length, sha256 };
    // Already in memory: spooling it would only add a copy.
    return { kind: 'ok', source: new SpooledContent(content.length, sha256, [content], null, opts.dir) };
  }

  let size = 0;
  let chunks: Buffer[] | null = [];
  let fh: fs.promises.FileHandle | null = null;
  let file: string | null = null;
  let over = false;
  try {
    for await (const c of content) {
      const chunk: Buffer = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      size += chunk.length;
      hash.update(chunk);
      if (over) continue;
      if (size > opts.maxBytes) {
        // Drop what we kept: the rest is only hashed and counted.
        over = true;
        chunks = null;
        if (fh) await fh.close();
        fh = null;
        continue;
      }
      if (fh === null && size > opts.thresholdBytes) {
        await fs.promises.mkdir(opts.dir, { recursive: true, mode: 0o700 });
        file = tempName(opts.dir);
        fh = await fs.promises.open(file, 'wx', 0o600);
        for (const b of chunks ?? []) await fh.write(b);
        chunks = null;
      }
      // Awaiting each write is the backpressure: the source is not read
      // faster than the disk takes it.
      if (fh !== null) await fh.write(chunk);
      else chunks?.push(chunk);
    }
    if (fh) await fh.close();
    fh = null;
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    if (file) await fs.promises.rm(file, { force: true });
    throw err;
  }
  const sha256 = hash.digest('hex');
  if (over) {
    if (file) await fs.promises.rm(file, { force: true });
    return { kind: 'over_limit', size, sha256 };
  }
  return { kind: 'ok', source: new SpooledContent(size, sha256, file === null ? chunks : null, file, opts.dir) };
}
