// Times on the command line: ISO 8601 ("2026-11-24", "2026-11-24T10:00Z"),
// epoch milliseconds, or relative to now ("30m", "2h", "7d", "1w").
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseTime(s: string, now = Date.now()): number {
  const t = s.trim();
  const rel = /^(\d{1,9})\s*([smhdw])$/.exec(t);
  if (rel) return now - Number(rel[1]) * (UNIT_MS[rel[2] as string] as number);
  if (/^\d{10,16}$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new Error(`bad time "${s}": expected ISO 8601 (2026-11-24T10:00:00Z), epoch ms, or relative like 30m, 2h, 7d`);
}
