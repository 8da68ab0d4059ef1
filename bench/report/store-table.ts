// Markdown for the store bench (scenarios/store.ts): events stored per second
// on each backend, with PostgreSQL as a ratio of SQLite measured in the same run.
import type { StoreBenchResult } from '../scenarios/store';

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

export function storeTable(r: StoreBenchResult): string {
  const base = r.sqlite.eventsPerSec;
  return [
    `Record store write rate: batches of ${r.batch} message events (~${f0(r.textChars)} characters of text each) as the audit queue sends them; ` +
      `median of ${r.rounds} rounds of ${r.secs} s; SQLite (WAL, writer thread) vs ${r.postgres} on loopback (fsync on), same run.`,
    '',
    '| store | events/s | vs SQLite |',
    '|---|---:|---:|',
    `| SQLite (baseline) | ${f0(base)} | 1.00x |`,
    ...(r.sqliteBefore ? [`| SQLite, older build (A/B) | ${f0(r.sqliteBefore.eventsPerSec)} | ${ratio(r.sqliteBefore.eventsPerSec, base)} |`] : []),
    `| PostgreSQL, one gateway | ${f0(r.pg.eventsPerSec)} | ${ratio(r.pg.eventsPerSec, base)} |`,
    `| PostgreSQL, two gateways at once (sum) | ${f0(r.pgFleet2.eventsPerSec)} | ${ratio(r.pgFleet2.eventsPerSec, base)} |`,
  ].join('\n');
}
