// The encoded batch the SQLite writer receives: every column value comes
// back exactly (non-ASCII text, nulls, numbers, values repeated from the row
// before, a batch that outgrows its first buffer), and a row that cannot be
// encoded leaves the batch as it was.
import { decodeRows, F_TEXT, WireBuilder, type WireRow } from '../../../src/audit/sqlite-wire';
import type { AuditRecord } from '../../../src/audit/types';
import { rec, tempStore } from './helpers';

const decodeAll = (b: WireBuilder): WireRow[] => {
  const rows: WireRow[] = [];
  decodeRows(b.seal(), (r) => rows.push([...r]));
  return rows;
};

describe('SQLite wire batches', () => {
  test('every field of an event comes back in INSERT order', () => {
    const r = rec(
      { id: 'ev-1', time: 1_700_000_000_123, conn: 'c9', groups: ['staff', 'sales'], app: 'jabber', text: 'Grüße 👋 "quoted" \\ back\nslash', file: { name: 'Q1 €.pdf', size: 1234, sha256: 'ab'.repeat(32) }, url: 'http://127.0.0.1/x', method: 'POST' },
      { action: 'redact', rule: 'mask-cards' },
      { redacted: 2 },
    );
    const b = new WireBuilder('run1');
    b.add(r);
    expect(decodeAll(b)).toEqual([
      [
        'ev-1', 1_700_000_000_123, 'run1', 'c9', 'socks5', '127.0.0.1', 'alice', '["staff","sales"]', 'irc', 'jabber', 'out', 'alice', '#imgate', 'message',
        'Grüße 👋 "quoted" \\ back\nslash', 'Q1 €.pdf', 1234, 'ab'.repeat(32), 'http://127.0.0.1/x', '127.0.0.1', 'POST', '127.0.0.1:6667', 'redact', 'mask-cards', '{"redacted":2}',
      ],
    ]);
  });

  test('values equal to the row before, values that change back, and nulls in between all decode as sent', () => {
    const recs: AuditRecord[] = [
      rec({ user: 'alice', peer: '#a', text: 'one' }),
      rec({ user: 'alice', peer: '#b', text: 'one' }),
      rec({ user: undefined, peer: '#b', text: undefined }),
      rec({ user: 'alice', peer: '#a', text: 'three' }),
      rec({ user: 'bob', peer: '#a', text: '' }),
    ];
    const b = new WireBuilder('r');
    for (const r of recs) b.add(r);
    const rows = decodeAll(b);
    expect(rows.map((x) => [x[6], x[12], x[14]])).toEqual([
      ['alice', '#a', 'one'],
      ['alice', '#b', 'one'],
      [null, '#b', null],
      ['alice', '#a', 'three'],
      ['bob', '#a', ''],
    ]);
    expect(rows.map((x) => x[0])).toEqual(recs.map((r) => r.ev.id));
  });

  test('raw fields come as their UTF-8 bytes, the others as strings; the writer stores those bytes as the same TEXT', async () => {
    const text = 'Grüße 👋 lone \ud800 surrogate';
    const b = new WireBuilder('r');
    b.add(rec({ text, user: 'zoë' }));
    b.add(rec({ text: '', user: 'zoë' }));
    b.add(rec({ text: undefined, user: 'zoë' }));
    const rows: Array<[unknown, unknown]> = [];
    decodeRows(b.seal(), (r) => rows.push([r[F_TEXT] instanceof Uint8Array ? Buffer.from(r[F_TEXT] as Uint8Array).toString('utf8') : r[F_TEXT], r[6]]), 1 << F_TEXT);
    // A lone surrogate is not UTF-8: it is encoded as U+FFFD, as a JS string bound to SQLite always was.
    expect(rows).toEqual([[text.replace('\ud800', '\ufffd'), 'zoë'], ['', 'zoë'], [null, 'zoë']]);
    const t = await tempStore();
    try {
      await t.store.writeBatch([rec({ text }), rec({ text: '' })]);
      expect(t.store.db.prepare('SELECT typeof(text) AS type, text FROM events ORDER BY seq').all()).toEqual([
        { type: 'text', text: text.replace('\ud800', '\ufffd') },
        { type: 'text', text: '' },
      ]);
      // Indexed from the stored bytes: case and diacritics fold as for any text.
      expect(await t.store.search({ text: 'GRUßE' })).toHaveLength(1);
    } finally {
      await t.done();
    }
  });

  test('a batch larger than its first buffer (a 3 MB message among small ones) grows and decodes', () => {
    const big = 'x'.repeat(3 * 1024 * 1024 - 1) + 'é';
    const b = new WireBuilder('r', 1024);
    for (let i = 0; i < 50; i++) b.add(rec({ text: i === 25 ? big : `small ${i}` }));
    const texts = decodeAll(b).map((x) => x[14]);
    expect(texts).toHaveLength(50);
    expect(texts[25]).toBe(big);
    expect(texts[49]).toBe('small 49');
  });

  test('a row that cannot be encoded throws and leaves the batch as it was', () => {
    const b = new WireBuilder('r');
    b.add(rec({ user: 'carol', text: 'kept' }));
    const bad = rec({ user: 'dave', text: 'lost' });
    (bad.ev as { groups: unknown }).groups = undefined;
    expect(() => b.add(bad)).toThrow();
    b.add(rec({ user: 'dave', text: 'next' }));
    expect(b.count).toBe(2);
    expect(decodeAll(b).map((x) => [x[6], x[14]])).toEqual([
      ['carol', 'kept'],
      ['dave', 'next'],
    ]);
  });
});
