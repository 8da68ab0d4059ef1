// FileArchive: content-addressed paths, dedup, per-file and total caps,
// streams hashed while written, metadata rows in the store.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileArchive } from '../../../src/audit/archive';
import type { SqliteStore } from '../../../src/audit/sqlite';
import { silent, storePerTest, type TempStore } from './helpers';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('FileArchive', () => {
  let t: TempStore;
  let store: SqliteStore;
  storePerTest(
    (s) => {
      t = s;
      store = s.store;
    },
    undefined,
    'imgate.db',
  );
  const files = () => store.db.prepare('SELECT sha256, name, size, stored_path FROM files ORDER BY name').all();

  test('a buffer is kept under files/<sha[0:2]>/<sha>, once per content', async () => {
    const a = await FileArchive.open(t.dir, store, { enabled: true, maxFileBytes: 1000, maxTotalBytes: 10_000 }, silent);
    const body = Buffer.from('%PDF-1.4 quarterly plan');
    const r = a.putBuffer(body, { name: 'plan.pdf' });
    expect(r).toEqual({ sha256: sha(body), size: body.length, storedPath: join('files', sha(body).slice(0, 2), sha(body)) });
    await a.settle();
    expect(readFileSync(join(t.dir, r.storedPath as string))).toEqual(body);
    a.putBuffer(body, { name: 'copy.pdf' });
    await a.settle();
    expect(a.totalBytes).toBe(body.length);
    expect(readdirSync(join(t.dir, 'files', sha(body).slice(0, 2)))).toEqual([sha(body)]);
    expect(files()).toEqual([{ sha256: sha(body), name: 'plan.pdf', size: body.length, stored_path: r.storedPath }]);
  });

  test('over the per-file cap: metadata only; over the total cap: metadata only', async () => {
    const a = await FileArchive.open(t.dir, store, { enabled: true, maxFileBytes: 10, maxTotalBytes: 15 }, silent);
    const big = Buffer.alloc(11, 1);
    expect(a.putBuffer(big, { name: 'big.bin' })).toMatchObject({ storedPath: null, reason: 'file_cap', sha256: sha(big) });
    const ok = Buffer.alloc(10, 2);
    expect(a.putBuffer(ok, { name: 'ok.bin' }).storedPath).not.toBeNull();
    const more = Buffer.alloc(6, 3);
    expect(a.putBuffer(more, { name: 'more.bin' })).toMatchObject({ storedPath: null, reason: 'total_cap', size: 6 });
    await a.settle();
    expect(existsSync(join(t.dir, FileArchive.relPath(sha(big))))).toBe(false);
    expect(existsSync(join(t.dir, FileArchive.relPath(sha(more))))).toBe(false);
    expect(await store.archivedBytes()).toBe(10);
    // Every file is still on record, with its sha256, archived or not.
    expect(files()).toEqual([
      { sha256: sha(big), name: 'big.bin', size: 11, stored_path: null },
      { sha256: sha(more), name: 'more.bin', size: 6, stored_path: null },
      { sha256: sha(ok), name: 'ok.bin', size: 10, stored_path: FileArchive.relPath(sha(ok)) },
    ]);
  });

  test('a stream is hashed and written in one pass; past the cap it is hashed, not kept', async () => {
    const a = await FileArchive.open(t.dir, store, { enabled: true, maxFileBytes: 64 * 1024, maxTotalBytes: 1 << 30 }, silent);
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(5000, i));
    const whole = Buffer.concat(chunks);
    const r = await a.putStream(Readable.from(chunks), { name: 'small.bin' });
    expect(r).toEqual({ sha256: sha(whole), size: whole.length, storedPath: FileArchive.relPath(sha(whole)) });
    expect(readFileSync(join(t.dir, r.storedPath as string))).toEqual(whole);
    const bigChunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(5000, 100 + i));
    const bigWhole = Buffer.concat(bigChunks);
    const r2 = await a.putStream(Readable.from(bigChunks), { name: 'big.bin' });
    expect(r2).toEqual({ sha256: sha(bigWhole), size: bigWhole.length, storedPath: null, reason: 'file_cap' });
    // No temp files left behind.
    expect(readdirSync(join(t.dir, 'files')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('the total already archived is read back from the store on start', async () => {
    const a = await FileArchive.open(t.dir, store, { enabled: true, maxFileBytes: 100, maxTotalBytes: 100 }, silent);
    a.putBuffer(Buffer.alloc(80, 1));
    await a.settle(); // the file row is written in the background
    const b = await FileArchive.open(t.dir, store, { enabled: true, maxFileBytes: 100, maxTotalBytes: 100 }, silent);
    expect(b.totalBytes).toBe(80);
    expect(b.putBuffer(Buffer.alloc(30, 2)).reason).toBe('total_cap');
    await Promise.all([a.settle(), b.settle()]);
  });
});
