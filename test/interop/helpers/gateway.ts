// The imgate gateway as an operator runs it: `node bin/imgate.js start
// --config FILE` (compiled dist/ required), free ports, policy file beside the
// config in a temp dir, JSON logs captured from stdout, stopped with SIGTERM.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import YAML from 'yaml';
import { Daemon, type ExitInfo } from './process';
import { freePorts, sleep } from './ports';
import { makeTempDir, removeTempDir } from './tmpdir';
import { httpGet, type HttpResult } from './http-get';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const IMGATE_BIN = path.join(REPO, 'bin', 'imgate.js');

export interface TestUser {
  name: string;
  password: string;
}

export interface GatewayOptions {
  /** Deep-merged over the generated config (ports are filled in unless given). */
  config?: Record<string, unknown>;
  /** Policy YAML text; default allows everything. */
  policy?: string;
  /** Users written as password_sha256, for socks5 userpass / http basic. */
  users?: TestUser[];
  /** Name used for the temp dir. */
  name?: string;
}

export interface GatewayPorts {
  icap: number;
  socks5: number;
  http: number;
  admin: number;
}

export type LogLine = Record<string, unknown> & { msg?: string };

export function assertBuilt(): void {
  const main = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} missing: run "npm run build" first`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export function sha256Hex(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

/** A complete config for the given ports; only loopback, data in the temp dir. */
export function baseConfig(dir: string, ports: GatewayPorts, users: TestUser[]): Record<string, unknown> {
  return {
    data_dir: path.join(dir, 'var'),
    // debug: with the record store on, allowed IM events are logged at debug
    // only; the tests read every decided event from the log.
    log: { level: 'debug' },
    policy_file: 'policy.yaml',
    icap: {
      enabled: true,
      listen: { host: '127.0.0.1', port: ports.icap },
      service_id: 'imgate',
      services: { reqmod: '/reqmod', respmod: '/respmod' },
      preview_bytes: 1024,
    },
    socks5: { enabled: true, listen: { host: '127.0.0.1', port: ports.socks5 }, auth: 'none' },
    http_proxy: { enabled: true, listen: { host: '127.0.0.1', port: ports.http }, auth: 'none', realm: 'imgate' },
    users: users.map((u) => ({ name: u.name, password_sha256: sha256Hex(u.password) })),
    access: { clients: ['127.0.0.0/8', '::1/128'], destinations: [], default_destination: 'allow' },
    admin: { enabled: true, listen: { host: '127.0.0.1', port: ports.admin } },
    shutdown: { drain_timeout_ms: 10000 },
  };
}

export const ALLOW_ALL_POLICY = 'default: allow\nrules: []\n';

export class Gateway {
  daemon!: Daemon;
  readonly configPath: string;
  readonly policyPath: string;

  private constructor(
    readonly dir: string,
    readonly ports: GatewayPorts,
    readonly config: Record<string, unknown>,
  ) {
    this.configPath = path.join(dir, 'imgate.yaml');
    this.policyPath = path.join(dir, 'policy.yaml');
  }

  static async start(opts: GatewayOptions = {}): Promise<Gateway> {
    assertBuilt();
    const dir = makeTempDir(opts.name ?? 'gw');
    const [icap, socks5, http, admin] = await freePorts(4);
    const ports = { icap, socks5, http, admin } as GatewayPorts;
    const config = deepMerge(baseConfig(dir, ports, opts.users ?? []), opts.config ?? {});
    const gw = new Gateway(dir, ports, config);
    fs.writeFileSync(gw.configPath, YAML.stringify(config));
    fs.writeFileSync(gw.policyPath, opts.policy ?? ALLOW_ALL_POLICY);
    try {
      await gw.spawn();
    } catch (err) {
      // The caller never gets the object, so clean up here.
      await gw.cleanup();
      throw err;
    }
    return gw;
  }

  private async spawn(): Promise<void> {
    this.daemon = new Daemon('imgate', process.execPath, [IMGATE_BIN, 'start', '--config', this.configPath], {
      cwd: this.dir,
      logFile: path.join(this.dir, 'imgate.log'),
    });
    await this.waitReady();
  }

  /** Polls GET /readyz until 200; fails fast (with the output) if the process dies. */
  async waitReady(timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.daemon.alive()) {
        throw new Error(`imgate exited before ready:\n${this.daemon.stdout()}\n${this.daemon.stderr()}`);
      }
      try {
        if ((await this.admin('/readyz')).status === 200) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`imgate /readyz not 200 after ${timeoutMs} ms:\n${this.daemon.stdout().slice(-4000)}`);
  }

  get pid(): number {
    return this.daemon.pid;
  }

  admin(p: string): Promise<HttpResult> {
    return httpGet(`http://127.0.0.1:${this.ports.admin}${p}`);
  }

  /** Parsed JSON log lines from stdout (non-JSON lines are skipped). */
  logs(): LogLine[] {
    const out: LogLine[] = [];
    for (const line of this.daemon.stdout().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        /* partial last line */
      }
    }
    return out;
  }

  async waitLog(pred: (l: LogLine) => boolean, timeoutMs = 5000, from = 0): Promise<LogLine | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs().slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) return null;
      await sleep(50);
    }
  }

  writePolicy(text: string): void {
    // Write-then-rename: the gateway never reads a half-written policy.
    const tmp = `${this.policyPath}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, this.policyPath);
  }

  /** SIGHUP. Callers poll for the effect; reload logging is not part of the contract. */
  reload(): void {
    this.daemon.signal('SIGHUP');
  }

  /** SIGTERM and wait (drain timeout + margin). */
  async stop(): Promise<ExitInfo> {
    return this.daemon.stop(20000);
  }

  async cleanup(): Promise<void> {
    if (this.daemon?.alive()) await this.stop();
    removeTempDir(this.dir);
  }
}
