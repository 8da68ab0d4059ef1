// The frame of a standalone bench entry (bench/*-main.ts and the like):
// cleanup on signals, a temp dir for the peers, and at the end every started
// process stopped and the dir removed; a failure is printed and exits 1.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCleanup, stopAll } from './proc';

export function runStandalone(name: string, body: (tmp: string) => Promise<void>): void {
  installCleanup();
  const tmp = mkdtempSync(path.join(os.tmpdir(), `imgate-${name}-`));
  const finish = async (): Promise<void> => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  body(tmp).then(finish, async (e: unknown) => {
    console.error(e);
    await finish();
    process.exit(1);
  });
}
