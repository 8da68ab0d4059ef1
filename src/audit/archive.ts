// Content-addressed archive of transferred files the gateway actually holds:
// data_dir/files/<sha256[0:2]>/<sha256>. Identical content is kept once. A
// file over max_file_bytes, or one that would push the archive over
// max_total_bytes, is recorded by metadata only (name, size, sha256).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../log';
import type { Store } from './types';

export interface ArchiveSettings {
  enabled: boolean;
  maxFileBytes: number;
  maxTotalBytes: number;
}

export interface FileMeta {
  name?: string;
  time?: number;
}

export interface ArchiveResult {
  sha256: string;
  size: number;
  /** Relative to data_dir ("files/ab/ab12..."), or null when only metadata was kept. */
  storedPath: string | null;
  reason?: 'disabled' | 'file_cap' | 'total_cap' | 'error';
}

let tmpCounter = 0;

export class FileArchive {
  private total: number;
  private readonly pending = new Set<Promise<unknown>>();

  /** `total`: archived bytes the store already holds (see open()). */
  constructor(
    private readonly dataDir: string,
    private readonly store: Store,
    private readonly settings: ArchiveSettings,
    private readonly logger: Logger,
    total: number,
  ) {
    this.total = total;
  }

  static async open(dataDir: string, store: Store, settings: ArchiveSettings, logger: Logger): Promise<FileArchive> {
    return new FileArchive(dataDir, store, settings, logger, await store.archivedBytes());
  }

  get totalBytes(): number {
    return this.total;
  }

  static relPath(sha256: string): string {
    return join('files', sha256.slice(0, 2), sha256);
  }

  /** Decides whether `size` more bytes may be kept, reserving them if so. */
  private admit(size: number): ArchiveResult['reason'] | null {
    if (!this.settings.enabled) return 'disabled';
    if (size > this.settings.maxFileBytes) return 'file_cap';
    if (this.total + size > this.settings.maxTotalBytes) return 'total_cap';
    this.total += size;
    return null;
  }

  /** Records the file row; a store error is logged (the event itself still names the sha256). */
  private register(r: ArchiveResult, meta: FileMeta): Promise<void> {
    return this.store
      .putFile({ sha256: r.sha256, name: meta.name ?? null, size: r.size, time: meta.time ?? Date.now(), storedPath: r.storedPath })
      .catch((err: unknown) => this.logger.error({ err: (err as Error).message, sha256: r.sha256 }, 'file archive: store registration failed'));
  }

  private async exists(rel: string): Promise<boolean> {
    return stat(join(this.dataDir, rel)).then(() => true, () => false);
  }

  /**
   * Content in memory (web uploads): hashed synchronously so the caller can
   * put the sha256 on its event at once; the disk write and the store row
   * are done in the background (awaited by settle()).
   */
  putBuffer(content: Buffer, meta: FileMeta = {}): ArchiveResult {
    const sha256 = createHash('sha256').update(content).digest('hex');
    const r: ArchiveResult = { sha256, size: content.length, storedPath: null };
    const why = this.admit(content.length);
    if (why) {
      r.reason = why;
      this.track(this.register(r, meta));
      return r;
    }
    const rel = FileArchive.relPath(sha256);
    r.storedPath = rel;
    const job = (async () => {
      if (await this.exists(rel)) {
        this.total -= content.length; // already kept once
        return;
      }
      const abs = join(this.dataDir, rel);
      const tmp = `${abs}.${process.pid}.${++tmpCounter}.tmp`;
      await mkdir(join(this.dataDir, 'files', sha256.slice(0, 2)), { recursive: true });
      await writeFile(tmp, content);
      await rename(tmp, abs);
    })().catch((err: unknown) => {
      this.total -= content.length;
      this.logger.error({ err: (err as Error).message, sha256 }, 'file archive write failed');
    });
    this.track(job);
    this.track(this.register(r, meta));
    return r;
  }

  /** Streamed content (AV spool, tunnels): hashed and written in one pass, capped. */
  async putStream(src: Readable, meta: FileMeta = {}): Promise<ArchiveResult> {
    const dir = join(this.dataDir, 'files');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.in.${process.pid}.${++tmpCounter}.tmp`);
    const hash = createHash('sha256');
    const out = createWriteStream(tmp);
    let size = 0;
    let writing = this.settings.enabled;
    const run = (async () => {
      try {
        for await (const chunk of src) {
          const b = chunk as Buffer;
          hash.update(b);
          size += b.length;
          // Past the per-file cap the content is still hashed, no longer kept.
          if (writing && size > this.settings.maxFileBytes) writing = false;
          if (writing && !out.write(b)) await new Promise<void>((res) => out.once('drain', () => res()));
        }
      } finally {
        await new Promise<void>((res) => out.end(() => res()));
      }
      const sha256 = hash.digest('hex');
      const r: ArchiveResult = { sha256, size, storedPath: null };
      const why = writing ? this.admit(size) : this.settings.enabled ? 'file_cap' : 'disabled';
      const rel = FileArchive.relPath(sha256);
      if (why) r.reason = why;
      else if (await this.exists(rel)) {
        this.total -= size;
        r.storedPath = rel;
      } else {
        await mkdir(join(dir, sha256.slice(0, 2)), { recursive: true });
        await rename(tmp, join(this.dataDir, rel));
        r.storedPath = rel;
      }
      await unlink(tmp).catch(() => undefined);
      await this.register(r, meta);
      return r;
    })();
    this.track(run);
    try {
      return await run;
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** Unlinks archived files retention made unreferenced. */
  async remove(paths: readonly string[]): Promise<void> {
    for (const rel of paths) {
      const abs = join(this.dataDir, rel);
      const st = await stat(abs).catch(() => null);
      await unlink(abs).catch(() => undefined);
      if (st) this.total = Math.max(0, this.total - st.size);
    }
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined);
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }

  /** Waits for background writes. */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}
