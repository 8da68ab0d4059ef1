// Child process bookkeeping: every process the bench starts is tracked and
// stopped by its own pid (TERM, then KILL), also on Ctrl-C or a crash.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { progress } from './log';

const live = new Map<number, { cp: ChildProcess; name: string }>();

export interface Daemon {
  name: string;
  cp: ChildProcess;
  /** Tail of what the daemon wrote to stdout/stderr (for error messages). */
  output(): string;
}

/**
 * Start a long-running process (server under test, peer, helper). Its
 * stdout/stderr go straight to logFile: reading a chatty daemon's logs
 * through a pipe would cost the bench process CPU during measurements.
 */
export function startDaemon(name: string, cmd: string, args: string[], logFile: string, opts: SpawnOptions = {}): Daemon {
  const fd = openSync(logFile, 'a');
  let cp: ChildProcess;
  try {
    cp = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...opts });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  if (cp.pid === undefined) throw new Error(`${name}: spawn ${cmd} failed`);
  live.set(cp.pid, { cp, name });
  cp.once('exit', () => { if (cp.pid !== undefined) live.delete(cp.pid); });
  const output = (): string => {
    try { return readFileSync(logFile, 'utf8').slice(-4096); } catch { return ''; }
  };
  return { name, cp, output };
}

/** Reject if the daemon exits before `ready` resolves (bad config, crash). */
export function unlessExits<T>(d: Daemon, ready: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, sig: string | null): void => {
      reject(new Error(`${d.name} exited (code ${code}, signal ${sig}) during start-up: ${d.output().slice(-1500)}`));
    };
    d.cp.once('exit', onExit);
    ready.then(
      (v) => { d.cp.removeListener('exit', onExit); resolve(v); },
      (e: unknown) => { d.cp.removeListener('exit', onExit); reject(e instanceof Error ? new Error(`${e.message}; ${d.name} log: ${d.output().slice(-1500)}`) : e); },
    );
  });
}

/** TERM, wait up to graceMs, then KILL. Resolves with the exit code (null if signalled). */
export function stopDaemon(d: { cp: ChildProcess; name: string }, graceMs = 8000): Promise<number | null> {
  const { cp } = d;
  if (cp.exitCode !== null || cp.signalCode !== null) return Promise.resolve(cp.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      progress(`${d.name}: no exit ${graceMs} ms after SIGTERM, sending SIGKILL`);
      cp.kill('SIGKILL');
    }, graceMs);
    cp.once('exit', (code) => { clearTimeout(timer); resolve(code); });
    cp.kill('SIGTERM');
  });
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map((d) => stopDaemon(d)));
}

/** Run a bounded command to completion and capture stdout (load generators). */
export function runToEnd(cmd: string, args: string[], timeoutMs: number, opts: SpawnOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const cp = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    if (cp.pid !== undefined) live.set(cp.pid, { cp, name: cmd });
    let stdout = '';
    let stderr = '';
    cp.stdout?.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    cp.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-8192); });
    // Hard bound: a hung generator must not hang the bench.
    const timer = setTimeout(() => cp.kill('SIGKILL'), timeoutMs);
    cp.once('error', (e) => { clearTimeout(timer); reject(e); });
    cp.once('exit', (code) => {
      clearTimeout(timer);
      if (cp.pid !== undefined) live.delete(cp.pid);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parse the last JSON line a load generator printed. */
export function lastJson<T>(stdout: string, what: string): T {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`${what}: no JSON result in output: ${stdout.slice(-500)}`);
  return JSON.parse(line) as T;
}

let hooked = false;
/** On Ctrl-C / TERM / crash: stop every tracked child, then exit. */
export function installCleanup(): void {
  if (hooked) return;
  hooked = true;
  const bail = (why: string, code: number): void => {
    progress(`${why}: stopping ${live.size} child process(es)`);
    stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('SIGINT', 130));
  process.once('SIGTERM', () => bail('SIGTERM', 143));
  process.once('uncaughtException', (e) => { process.stderr.write(`${e.stack ?? String(e)}\n`); bail('uncaught exception', 1); });
}
