// Retention: events older than retention_days go, then the oldest events
// until the pages in use fit max_db_bytes. Deletes run in chunks (one
// transaction each) so a scheduled pass never holds the event loop long.
import type { FileArchive } from './archive';
import type { Store } from './types';

export interface RetentionSettings {
  /** 0: keep forever. */
  retentionDays: number;
  /** 0: no size bound. */
  maxDbBytes: number;
}

export interface RetentionResult {
  byAge: number;
  bySize: number;
}

const CHUNK = 5000;
/** Lets queued audit batches and relay work run between delete chunks. */
const yieldToLoop = (): Promise<void> => new Promise((res) => setImmediate(res));
const DAY_MS = 86_400_000;

export async function enforceRetention(store: Store, archive: FileArchive | null, s: RetentionSettings, now = Date.now()): Promise<RetentionResult> {
  const orphans: string[] = [];
  let byAge = 0;
  if (s.retentionDays > 0) {
    for (;;) {
      const r = await store.deleteBefore(now - s.retentionDays * DAY_MS, CHUNK);
      byAge += r.events;
      orphans.push(...r.orphanedPaths);
      if (r.events < CHUNK) break;
      await yieldToLoop();
    }
  }
  let bySize = 0;
  if (s.maxDbBytes > 0) {
    // Estimate how many rows to drop from the average row size; repeat since
    // FTS and index pages free up unevenly.
    for (let round = 0; round < 50; round++) {
      const st = await store.stats();
      if (st.dbBytes <= s.maxDbBytes || st.events === 0) break;
      const perEvent = st.dbBytes / st.events;
      const n = Math.max(1, Math.min(CHUNK, Math.ceil(((st.dbBytes - s.maxDbBytes) / perEvent) * 1.1)));
      const r = await store.deleteOldest(n);
      bySize += r.events;
      orphans.push(...r.orphanedPaths);
      await yieldToLoop();
    }
  }
  if (archive && orphans.length) await archive.remove(orphans);
  return { byAge, bySize };
}
