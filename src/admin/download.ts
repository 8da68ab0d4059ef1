// Download of an archived file: the name comes from the wire (hostile,
// possibly binary), so Content-Disposition carries a sanitised ASCII
// fallback plus the RFC 5987 UTF-8 form; the content streams from disk.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import { resolve, sep } from 'node:path';

const MAX_NAME = 150;

/** Printable, no path separators, quotes or controls; never empty or a dot name. */
export function safeFileName(name: string | null, sha256: string): { ascii: string; utf8: string } {
  const fallback = `${sha256.slice(0, 16)}.bin`;
  if (name === null) return { ascii: fallback, utf8: fallback };
  // eslint-disable-next-line no-control-regex
  let u = name.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffd]/g, '').replace(/[/\\:*?"<>|]/g, '_').trim();
  u = [...u].slice(0, MAX_NAME).join('');
  u = u.replace(/^\.+/, '_');
  if (u.length === 0) u = fallback;
  let a = u.replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '_');
  if (a.replace(/_/g, '').length === 0) a = fallback;
  return { ascii: a, utf8: u };
}

export function contentDisposition(name: string | null, sha256: string): string {
  const n = safeFileName(name, sha256);
  const star = encodeURIComponent(n.utf8).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${n.ascii}"; filename*=UTF-8''${star}`;
}

/** Absolute path of an archived file, or null if the stored path leaves data_dir/files. */
export function archivedPath(dataDir: string, storedPath: string): string | null {
  const root = resolve(dataDir, 'files');
  const abs = resolve(dataDir, storedPath);
  return abs.startsWith(root + sep) ? abs : null;
}

/** Streams the file; false when it is not on disk (the caller answers 404). */
export async function streamFile(
  res: http.ServerResponse,
  abs: string,
  headers: Record<string, string>,
  head: boolean,
): Promise<boolean> {
  const st = await stat(abs).catch(() => null);
  if (!st || !st.isFile()) return false;
  res.writeHead(200, { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Length': String(st.size) });
  if (head) {
    res.end();
    return true;
  }
  const rs = createReadStream(abs);
  rs.on('error', () => res.destroy());
  res.on('close', () => rs.destroy());
  rs.pipe(res);
  return true;
}
