// Scanning content the caller holds itself (the ICAP door holds a transfer
// body so it can pass it on after the verdict). The AvService contract only
// takes a stream or a buffer, which it would spool a second time; the
// service built by createAvService can scan a held source directly. Any
// other AvService (a test double) falls back to scan(open()).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ScanSource } from './scanner';
import { AvServiceImpl } from './service';
import { tempName, type SpooledContent } from './spool';
import type { AvService, ScanRequest, ScanResult } from './types';

export interface AvLimits {
  spoolThresholdBytes: number;
  maxScanBytes: number;
  overLimitAllows: boolean;
  spoolDir: string;
}

const FALLBACK_LIMITS: AvLimits = { spoolThresholdBytes: 1_048_576, maxScanBytes: 104_857_600, overLimitAllows: false, spoolDir: '/tmp' };

export function avLimits(av: AvService, dataDirFallback?: string): AvLimits {
  if (av instanceof AvServiceImpl) return av.limits;
  return dataDirFallback === undefined ? FALLBACK_LIMITS : { ...FALLBACK_LIMITS, spoolDir: dataDirFallback };
}

export function scanHeld(av: AvService, src: ScanSource, req: ScanRequest): Promise<ScanResult> {
  if (av instanceof AvServiceImpl) return av.scanSource(src, req);
  return av.scan(src.open(), req);
}

/** What a declared size over max_scan_bytes gets, before any byte is read. */
export function overLimitResult(av: AvService, size: number, req: ScanRequest): ScanResult {
  if (av instanceof AvServiceImpl) return av.overLimitResult(size, req);
  return { outcome: { status: 'error', reason: `content of ${size} bytes is over max_scan_bytes`, failOpen: false }, scanner: 'all', size, cached: false, durationMs: 0 };
}

async function hashOf(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

/** One byte range of held content (a multipart part) as a scan source: hashed once, read again per scanner. */
export async function rangeSource(held: SpooledContent, start: number, end: number): Promise<ScanSource> {
  const sha256 = await hashOf(held.openRange(start, end));
  let tmp: string | null = null;
  return {
    size: end - start,
    sha256,
    open: () => held.openRange(start, end),
    // Only the command scanner needs a path: write the part out on demand.
    path: async () => {
      if (tmp === null) {
        await fs.promises.mkdir(held.dir, { recursive: true, mode: 0o700 });
        const p = tempName(held.dir);
        // Registered first so dispose() removes it even if the copy fails half-way.
        held.adopt(p);
        await pipeline(held.openRange(start, end), fs.createWriteStream(p, { mode: 0o600 }));
        tmp = p;
      }
      return tmp;
    },
  };
}
