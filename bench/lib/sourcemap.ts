// Minimal source-map (v3) reader: maps a compiled dist/*.js position back to
// the .ts line, so profile hotspots name the file the engineers edit.
// Written here (~50 lines) rather than depending on a transitive package.
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface Segment { genCol: number; src: number; line: number }
export interface SourceMap { sources: string[]; lines: Segment[][] }

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...B64].map((c, i) => [c, i]));

/** Decode one base64-VLQ segment into its signed fields. */
function vlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of seg) {
    const d = DIGIT.get(ch) ?? 0;
    value += (d & 31) << shift;
    if (d & 32) { shift += 5; continue; }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

export function loadSourceMap(jsFile: string): SourceMap | null {
  let raw: { sources: string[]; mappings: string; sourceRoot?: string };
  try { raw = JSON.parse(readFileSync(`${jsFile}.map`, 'utf8')) as typeof raw; } catch { return null; }
  const dir = path.dirname(jsFile);
  const sources = raw.sources.map((s) => path.resolve(dir, raw.sourceRoot ?? '', s));
  let src = 0;
  let line = 0;
  const lines = raw.mappings.split(';').map((l) => {
    let genCol = 0;
    const segs: Segment[] = [];
    for (const s of l.split(',')) {
      if (!s) continue;
      const f = vlq(s);
      genCol += f[0] ?? 0;
      if (f.length >= 4) {
        src += f[1]!;
        line += f[2]!;
        segs.push({ genCol, src, line });
      }
    }
    return segs;
  });
  return { sources, lines };
}

/** Original (file, 1-based line) of a 0-based generated position, if mapped. */
export function originalPosition(map: SourceMap, line0: number, col0: number): { file: string; line: number } | null {
  const segs = map.lines[line0];
  if (!segs || segs.length === 0) return null;
  let best = segs[0]!;
  for (const s of segs) if (s.genCol <= col0) best = s; else break;
  return { file: map.sources[best.src] ?? '?', line: best.line + 1 };
}
