// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function,
// mapped back to TypeScript sources, and a breakdown by where code lives.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSourceMap, originalPosition, type SourceMap } from './sourcemap';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface Hotspot { fn: string; where: string; category: string; selfMs: number; pct: number }
export interface ProfileSummary {
  /** Wall time covered by the profile (ms). */
  totalMs: number;
  /** Non-idle time (ms): the base of every percentage. */
  busyMs: number;
  /** Self time by category, % of busy. */
  categories: Record<string, number>;
  top: Hotspot[];
  /** Top functions in imgate's own code (dist/src, dist/icap, dist/socks). */
  topOwn: Hotspot[];
}

/** Where a frame's code lives: our code by folder, Node internals, deps, V8. */
function categorise(fn: string, url: string, repoRoot: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/native (program)';
  if (fn === '(idle)') return 'idle';
  if (url.startsWith('node:')) return 'Node core (JS)';
  if (url === '') return 'V8 builtins / native bindings';
  const file = url.startsWith('file:') ? fileURLToPath(url) : url;
  if (file.includes(`${path.sep}node_modules${path.sep}`)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    return `dep ${m ? m[1] : '?'}`;
  }
  const rel = path.relative(path.join(repoRoot, 'dist'), file);
  if (!rel.startsWith('..')) return `imgate ${rel.split(path.sep)[0]}/`;
  return 'other';
}

export function summariseProfile(file: string, repoRoot: string, topN = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the gap before sample i; attributing it to sample i is
  // what Chrome DevTools does.
  prof.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const maps = new Map<string, SourceMap | null>();
  const agg = new Map<string, Hotspot>();
  const cats: Record<string, number> = {};
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    total += us;
    const category = categorise(cf.functionName, cf.url, repoRoot);
    if (category === 'idle') { idle += us; continue; }
    cats[category] = (cats[category] ?? 0) + us;
    let where = cf.url ? `${cf.url.replace(/^file:\/\//, '')}:${cf.lineNumber + 1}` : '(native)';
    if (cf.url.startsWith('file:') && !cf.url.includes('/node_modules/')) {
      const js = fileURLToPath(cf.url);
      if (!maps.has(js)) maps.set(js, loadSourceMap(js));
      const m = maps.get(js);
      const pos = m ? originalPosition(m, cf.lineNumber, cf.columnNumber) : null;
      where = pos ? `${path.relative(repoRoot, pos.file)}:${pos.line}` : path.relative(repoRoot, js) + `:${cf.lineNumber + 1}`;
    } else if (cf.url.includes('/node_modules/')) {
      where = where.slice(where.indexOf('node_modules/'));
    }
    const fn = cf.functionName || '(anonymous)';
    const key = `${fn}@${where}`;
    const h = agg.get(key) ?? { fn, where, category, selfMs: 0, pct: 0 };
    h.selfMs += us / 1000;
    agg.set(key, h);
  }
  const busy = total - idle;
  const all = [...agg.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const h of all) h.pct = busy > 0 ? (h.selfMs * 1000 * 100) / busy : 0;
  const top = all.slice(0, topN);
  const topOwn = all.filter((h) => h.category.startsWith('imgate ') && !h.category.startsWith('imgate bench')).slice(0, topN);
  const categories = Object.fromEntries(
    Object.entries(cats).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, busy > 0 ? (v * 100) / busy : 0]),
  );
  return { totalMs: total / 1000, busyMs: busy / 1000, categories, top, topOwn };
}
