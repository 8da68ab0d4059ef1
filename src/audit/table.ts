// Plain-text tables for the CLI: columns padded to the widest cell, control
// characters shown as spaces so a hostile message cannot move the cursor.
export function clean(s: string | number | null | undefined, max = 0): string {
  if (s === null || s === undefined) return '';
  // eslint-disable-next-line no-control-regex
  let t = String(s).replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, ' ');
  if (max > 0 && t.length > max) t = `${t.slice(0, max - 1)}…`;
  return t;
}

export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
