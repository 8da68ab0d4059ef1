// An external scanner program, spawned without a shell with the spooled
// file's path. Exit 0 = clean, 1 = infected (signature from stdout), any
// other exit, a signal or the timeout (abort) = error.
import { spawn } from 'node:child_process';
import type { CommandScannerConfig } from './schema';
import { ScanError, type ScanSource, type Scanner, type Verdict } from './scanner';

const MAX_OUTPUT = 65_536;

interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], signal: AbortSignal): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, signal, killSignal: 'SIGKILL' });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      if (out.length < MAX_OUTPUT) out += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < MAX_OUTPUT) err += d.toString('utf8');
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(new ScanError(`command ${cmd}: killed (${signal.reason instanceof Error ? signal.reason.message : 'aborted'})`, 'aborted'));
      else reject(new ScanError(`command ${cmd}: ${e.code ?? e.message}`, 'io'));
    });
    child.once('close', (code, sig) => resolve({ code, signal: sig, stdout: out, stderr: err }));
  });
}

/** The signature in a scanner's stdout: "path: Name FOUND" (clamscan style) or its first line. */
export function signatureFromOutput(stdout: string): string {
  const found = /: (.+) FOUND\s*$/m.exec(stdout);
  if (found) return (found[1] as string).trim();
  const line = stdout.split('\n').map((l) => l.trim()).find((l) => l !== '');
  return line ? line.slice(0, 256) : 'unknown';
}

export class CommandScanner implements Scanner {
  readonly type = 'command' as const;
  readonly name: string;

  constructor(private readonly cfg: CommandScannerConfig) {
    this.name = cfg.name;
  }

  async scan(src: ScanSource, signal: AbortSignal): Promise<Verdict> {
    const file = await src.path();
    const args = this.cfg.args.includes('{}') ? this.cfg.args.map((a) => (a === '{}' ? file : a)) : [...this.cfg.args, file];
    const r = await run(this.cfg.command, args, signal);
    if (r.code === 0) return { status: 'clean' };
    if (r.code === 1) return { status: 'infected', signature: signatureFromOutput(r.stdout) };
    const why = r.signal ? `signal ${r.signal}` : `exit ${r.code ?? '?'}`;
    throw new ScanError(`command ${this.cfg.command}: ${why}: ${r.stderr.trim().slice(0, 200)}`, 'io');
  }

  async version(signal: AbortSignal): Promise<string> {
    const vc = this.cfg.version_command;
    if (!vc) return `command ${this.cfg.command}`;
    const r = await run(vc[0] as string, vc.slice(1), signal);
    if (r.code !== 0) throw new ScanError(`version command: exit ${r.code ?? r.signal ?? '?'}`, 'io');
    return r.stdout.trim().slice(0, 256) || `command ${this.cfg.command}`;
  }
}
