// A Store that answers from fixed rows and records every query it was asked,
// so the API tests can check what reaches the store (bounded, validated) and
// what never does (bad input, unauthenticated requests).
import type { ArchivedFile, Conversation, EventRow, FileRow, Report, SeriesPoint, Store } from '../../../src/audit/types';

export interface FakeData {
  events?: EventRow[];
  files?: FileRow[];
  archived?: ArchivedFile[];
  conversations?: Conversation[];
  points?: SeriesPoint[];
}

export function eventRow(p: Partial<EventRow> & { seq: number }): EventRow {
  return {
    id: `e${p.seq}`, time: 1_700_000_000_000 + p.seq, run: 'r', conn: 'c1', door: 'socks5', client_ip: '127.0.0.1', user: 'alice', groups: [],
    protocol: 'irc', app: null, direction: 'out', account: 'alice', peer: '#x', kind: 'message', text: 'hi', file_name: null, file_size: null,
    file_sha256: null, url: null, host: null, method: null, destination: null, action: 'allow', rule: 'default', detail: null, ...p,
  };
}

export class FakeStore implements Store {
  readonly calls: Array<{ method: string; q: unknown }> = [];
  constructor(private readonly data: FakeData = {}) {}
  private log(method: string, q: unknown): void {
    this.calls.push({ method, q });
  }
  async writeBatch(): Promise<void> {}
  async putFile(): Promise<void> {}
  async search(q: Parameters<Store['search']>[0]): Promise<EventRow[]> {
    this.log('search', q);
    let rows = [...(this.data.events ?? [])];
    if (q.afterSeq !== undefined) rows = rows.filter((r) => r.seq > (q.afterSeq as number));
    rows.sort((a, b) => (q.order === 'oldest' ? a.seq - b.seq : b.seq - a.seq));
    return rows.slice(0, q.limit ?? 100);
  }
  async files(q: Parameters<Store['files']>[0]): Promise<FileRow[]> {
    this.log('files', q);
    return this.data.files ?? [];
  }
  async file(sha256: string): Promise<ArchivedFile | null> {
    this.log('file', sha256);
    return (this.data.archived ?? []).find((f) => f.sha256 === sha256) ?? null;
  }
  async report(q: Parameters<Store['report']>[0]): Promise<Report> {
    this.log('report', q);
    return { since: q.since ?? null, until: q.until ?? null, total: { events: 3, messages: 2, files: 1, blocks: 1 }, by_user: [], by_protocol: [] };
  }
  async series(q: Parameters<Store['series']>[0]): Promise<SeriesPoint[]> {
    this.log('series', q);
    return this.data.points ?? [];
  }
  async conversations(q: Parameters<Store['conversations']>[0]): Promise<Conversation[]> {
    this.log('conversations', q);
    return this.data.conversations ?? [];
  }
  async *iterate(): AsyncIterableIterator<EventRow> {
    yield* [];
  }
  async count(): Promise<number> {
    return (this.data.events ?? []).length;
  }
  async stats() {
    this.log('stats', undefined);
    return { events: 3, sessions: 1, files: 1, dbBytes: 4096 };
  }
  async deleteBefore() {
    return { events: 0, orphanedPaths: [] };
  }
  async deleteOldest() {
    return { events: 0, orphanedPaths: [] };
  }
  async archivedBytes(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
}
