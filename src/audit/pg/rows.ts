// Result rows as PgStore hands them out: bigint and numeric as JS numbers
// (times are epoch ms, counts and sizes stay far below 2^53), json columns
// already parsed by the driver.
import { types as pgTypes, type CustomTypesConfig } from 'pg';
import type { EventRow } from '../types';

const INT8 = 20;
const NUMERIC = 1700;
const toNumber = (v: string): number => Number(v);

/** Per-pool type parsers, so the process-wide pg defaults stay untouched for other users of `pg`. */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
    if (oid === INT8 || oid === NUMERIC) return toNumber;
    return format === 'binary' ? pgTypes.getTypeParser(oid, 'binary') : pgTypes.getTypeParser(oid, 'text');
  },
} as unknown as CustomTypesConfig;

/** An events row as the driver returns it: groups and detail are json (null when empty). */
export type RawEventRow = Omit<EventRow, 'groups' | 'detail'> & { groups: string[] | null; detail: Record<string, unknown> | null };

export function toEventRow(r: RawEventRow): EventRow {
  return { ...r, groups: r.groups ?? [] };
}
