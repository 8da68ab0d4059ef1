// Spawning real daemons and CLI tools. Always `spawn` without a shell so the
// PID we hold is the daemon's own (peers.md §0 "PID gotcha"); every daemon
// is registered so a crashed suite still kills what it started.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort only (jest --forceExit, uncaught errors): afterAll is the
  // normal path and stops each daemon gracefully.
  process.once('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** Environment without proxy variables, so curl & co. only use what a test passes. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export class Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  private exitInfo: ExitInfo | null = null;
  private readonly exited: Promise<ExitInfo>;
  private out: Buffer[] = [];
  private err: Buffer[] = [];

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    opts: { cwd?: string; logFile?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    installExitHook();
    this.child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`${name}: spawn ${cmd} failed`);
    this.pid = this.child.pid;
    live.add(this.child);
    // Append mode: a reader truncating the file never leaves NUL holes (peers.md §0).
    const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a' }) : null;
    this.child.stdout?.on('data', (b: Buffer) => {
      this.out.push(b);
      log?.write(b);
    });
    this.child.stderr?.on('data', (b: Buffer) => {
      this.err.push(b);
      log?.write(b);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this.child);
        resolve(this.exitInfo);
      });
      this.child.once('error', () => {
        this.exitInfo = { code: null, signal: null };
        live.delete(this.child);
        resolve(this.exitInfo);
      });
    });
    this.exited.then(() => log?.end());
  }

  alive(): boolean {
    return this.exitInfo === null;
  }

  stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }

  stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive()) process.kill(this.pid, sig);
  }

  /** Resolves when the process has exited (or after timeoutMs with null). */
  async waitExit(timeoutMs: number): Promise<ExitInfo | null> {
    if (this.exitInfo) return this.exitInfo;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), timeoutMs);
    });
    const res = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return res;
  }

  /** SIGTERM, then SIGKILL after graceMs. Returns how it ended. */
  async stop(graceMs = 10000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGTERM');
    const res = await this.waitExit(graceMs);
    if (res) return res;
    this.signal('SIGKILL');
    return (await this.waitExit(5000)) ?? { code: null, signal: 'SIGKILL' };
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Runs a CLI tool to completion (bounded by timeoutMs), capturing its output. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer | string } = {},
): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? cleanEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    child.once('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - t0,
      });
    });
  });
}
