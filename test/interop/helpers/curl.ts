// curl as the end user's client. Proxy env vars are scrubbed (cleanEnv), so
// only the proxy flags a test passes are used; timeouts keep runs bounded.
import { run, type RunResult } from './process';

export interface CurlResult extends RunResult {
  /** HTTP status from -w, when the transfer produced one. */
  status: number;
  body: Buffer;
}

const MARK = '\n@@imgate-status=';

/** curl -sS [args] URL; the body is stdout, the status comes from -w. */
export async function curl(args: string[], timeoutMs = 30000): Promise<CurlResult> {
  const r = await run(
    'curl',
    ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), '-w', `${MARK}%{http_code}`, ...args],
    { timeoutMs: timeoutMs + 5000 },
  );
  const text = r.stdout;
  const idx = text.lastIndexOf(Buffer.from(MARK));
  const body = idx >= 0 ? text.subarray(0, idx) : text;
  const status = idx >= 0 ? Number(text.subarray(idx + MARK.length).toString()) : 0;
  return { ...r, status, body };
}
