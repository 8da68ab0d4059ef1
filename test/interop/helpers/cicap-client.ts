// c-icap-client (peers.md §2): -p is the port, -w the preview size, OPTIONS
// and -v output go to stderr, the adapted body to -o FILE (not written on 204).
import fs from 'node:fs';
import path from 'node:path';
import { run, type RunResult } from './process';

export interface CicapClientResult extends RunResult {
  /** Output file content, or null when the client wrote none (204). */
  output: Buffer | null;
  /** ICAP status from the -v dump ("ICAP/1.0 204 ..."), 0 if not found. */
  icapStatus: number;
}

let seq = 0;

export async function cicapClient(
  port: number,
  service: string,
  args: string[],
  workDir: string,
): Promise<CicapClientResult> {
  const out = path.join(workDir, `cicap-out-${process.pid}-${++seq}`);
  const r = await run('c-icap-client', ['-i', '127.0.0.1', '-p', String(port), '-s', service.replace(/^\//, ''), ...args, '-o', out, '-v'], {
    timeoutMs: 30000,
  });
  const output = fs.existsSync(out) ? fs.readFileSync(out) : null;
  if (output) fs.rmSync(out);
  const m = /ICAP\/1\.0 (\d{3})/.exec(lastIcapBlock(r.stderr));
  return { ...r, output, icapStatus: m ? Number(m[1]) : 0 };
}

/** -v prints "ICAP HEADERS:" then "ICAP/1.0 204 Unmodified"; the last status line is the answer. */
function lastIcapBlock(stderr: string): string {
  const i = stderr.lastIndexOf('ICAP/1.0 ');
  return i >= 0 ? stderr.slice(i) : stderr;
}
