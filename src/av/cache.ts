// Verdict cache: sha256 + scanner + signature version -> clean/infected.
// Errors are never cached (the next try may work). A new signature version
// makes old keys unreachable; the LRU ages them out.
import { LRUCache } from 'lru-cache';
import type { Verdict } from './scanner';

export class VerdictCache {
  private readonly lru: LRUCache<string, Verdict> | null;

  constructor(maxEntries: number, ttlSeconds: number) {
    this.lru = maxEntries > 0 ? new LRUCache<string, Verdict>({ max: maxEntries, ttl: ttlSeconds > 0 ? ttlSeconds * 1000 : undefined }) : null;
  }

  private static key(sha256: string, scanner: string, version: string): string {
    return `${sha256}\n${scanner}\n${version}`;
  }

  get(sha256: string, scanner: string, version: string): Verdict | undefined {
    return this.lru?.get(VerdictCache.key(sha256, scanner, version));
  }

  set(sha256: string, scanner: string, version: string, v: Verdict): void {
    this.lru?.set(VerdictCache.key(sha256, scanner, version), v);
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
