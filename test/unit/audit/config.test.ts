// The `audit:` config section: the block shipped in conf/imgate.yaml is
// valid and equals the built-in defaults; typos and out of range values are
// errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load';
import { dbPath } from '../../../src/audit';

describe('audit config', () => {
  test('the audit block in conf/imgate.yaml equals the defaults', () => {
    const text = readFileSync(join(__dirname, '../../../conf/imgate.yaml'), 'utf8');
    const block = /^audit:\n(?: {2}.*\n)+/m.exec(text)?.[0];
    expect(block).toBeDefined();
    const raw = parse(block as string) as Record<string, unknown>;
    const c = parseConfig(raw, null);
    expect(c.audit).toEqual(parseConfig({}, null).audit);
    expect(c.audit).toMatchObject({ enabled: true, queue_max: 100_000, flush_interval_ms: 200, files: { max_file_bytes: 26_214_400 } });
  });

  test('db_file is relative to data_dir', () => {
    expect(dbPath(parseConfig({ data_dir: '/srv/imgate' }, null))).toBe('/srv/imgate/imgate.db');
    expect(dbPath(parseConfig({ data_dir: '/srv/imgate', audit: { db_file: '/other/x.db' } }, null))).toBe('/other/x.db');
  });

  test('unknown keys and bad values are errors', () => {
    expect(() => parseConfig({ audit: { queue_maxx: 1 } }, null)).toThrow();
    expect(() => parseConfig({ audit: { flush_interval_ms: 0 } }, null)).toThrow();
    expect(() => parseConfig({ audit: { retention_days: -1 } }, null)).toThrow();
    expect(() => parseConfig({ audit: { files: { max_file_bytes: 'big' } } }, null)).toThrow();
  });
});
