// Per-suite scratch directories. Squid, c-icap and Dante drop privileges
// (proxy / nobody), so the tree must be traversable (755) and the daemon's own
// subdirectory owned by its run-time user (peers.md §0).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imgate-${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function removeTempDir(dir: string): void {
  // Keep the logs when asked to, so a failed CI run can be inspected.
  if (process.env.IMGATE_KEEP_TMP) return;
  fs.rmSync(dir, { recursive: true, force: true });
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** uid/gid of a system user, e.g. "proxy" or "nobody". */
function idsOf(user: string, group?: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = group
    ? Number(execFileSync('getent', ['group', group]).toString().split(':')[2])
    : Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

/** chown -R, only when we are root (otherwise the daemon runs as us anyway). */
export function chownTree(p: string, user: string, group?: string): void {
  if (!isRoot()) return;
  const { uid, gid } = idsOf(user, group);
  const walk = (q: string): void => {
    fs.chownSync(q, uid, gid);
    if (fs.statSync(q).isDirectory()) for (const e of fs.readdirSync(q)) walk(path.join(q, e));
  };
  walk(p);
}
