// Static assets of the admin UI, loaded into memory once (a few KiB plus
// chart.js). tsc does not copy non-TS files, so the folder is looked for
// beside the compiled file first (a build that copies it), then in the
// repository's src/admin/ui (running from dist/ in a checkout).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface Asset {
  type: string;
  body: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Files of the UI, by URL path. */
const FILES: Record<string, string> = {
  '/': 'index.html',
  '/ui/app.js': 'app.js',
  '/ui/app.css': 'app.css',
};

export function uiDir(): string {
  const candidates = [join(__dirname, 'ui'), resolve(__dirname, '..', '..', '..', 'src', 'admin', 'ui')];
  const hit = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!hit) throw new Error(`admin UI assets not found (looked in ${candidates.join(', ')})`);
  return hit;
}

/** chart.js's UMD bundle: its package exports hide dist/, so go from the main entry. */
export function chartJsPath(): string {
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

export function loadAssets(): Map<string, Asset> {
  const dir = uiDir();
  const out = new Map<string, Asset>();
  for (const [url, file] of Object.entries(FILES)) {
    const ext = file.slice(file.lastIndexOf('.'));
    out.set(url, { type: TYPES[ext] ?? 'application/octet-stream', body: readFileSync(join(dir, file)) });
  }
  out.set('/ui/chart.umd.min.js', { type: TYPES['.js'] as string, body: readFileSync(chartJsPath()) });
  return out;
}
