// Squid 5.7 as a forward proxy, configured per peers.md §1: foreground (-N,
// so our PID is Squid's), memory-only, shutdown_lifetime 0 (SIGTERM in ~1 s
// instead of 30 s), icap_service_failure_limit -1 (never suspend the service
// after errors, so one failing test does not poison the next).
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, run } from './process';
import { freePort, waitPort } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';
import type { TestUser } from './gateway';

export const SQUID_BIN = '/usr/sbin/squid';

export interface SquidOptions {
  /** ICAP server port: REQMOD /reqmod + RESPMOD /respmod on 127.0.0.1. */
  icapPort?: number;
  /** Upstream HTTP proxy (cache_peer parent, never_direct). */
  parentPort?: number;
  /** Basic proxy auth via basic_ncsa_auth; the username then goes to ICAP. */
  users?: TestUser[];
  name?: string;
}

export class Squid {
  daemon!: Daemon;
  readonly confPath: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.confPath = path.join(dir, 'squid', 'squid.conf');
  }

  get proxyUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `user:pass@` form for curl -x. */
  proxyUrlFor(u: TestUser): string {
    return `http://${u.name}:${u.password}@127.0.0.1:${this.port}`;
  }

  static async start(opts: SquidOptions = {}): Promise<Squid> {
    const dir = makeTempDir(opts.name ?? 'squid');
    const port = await freePort();
    const sq = new Squid(dir, port);
    const sdir = path.join(dir, 'squid');
    fs.mkdirSync(sdir);
    const passwd = path.join(sdir, 'passwd');
    if (opts.users?.length) {
      const lines: string[] = [];
      for (const u of opts.users) {
        const r = await run('openssl', ['passwd', '-apr1', u.password]);
        if (r.code !== 0) throw new Error(`openssl passwd: ${r.stderr}`);
        lines.push(`${u.name}:${r.stdout.toString().trim()}`);
      }
      fs.writeFileSync(passwd, `${lines.join('\n')}\n`);
    }
    fs.writeFileSync(sq.confPath, squidConf(sdir, port, opts, passwd));
    // Squid drops to `proxy` and must write its logs/pid there.
    chownTree(sdir, 'proxy');
    const parse = await run(SQUID_BIN, ['-k', 'parse', '-f', sq.confPath]);
    if (parse.code !== 0) throw new Error(`squid -k parse failed:\n${parse.stderr}`);
    sq.daemon = new Daemon('squid', SQUID_BIN, ['-N', '-f', sq.confPath], {
      cwd: sdir,
      logFile: path.join(dir, 'squid.out'),
    });
    try {
      await waitPort(port, { alive: () => sq.daemon.alive(), what: 'squid', timeoutMs: 20000 });
    } catch (err) {
      // The caller never gets the object, so stop the daemon here; its output goes into the error.
      const log = (sq.daemon.stderr() + sq.cacheLog()).slice(-2000);
      await sq.cleanup();
      throw new Error(`${(err as Error).message}\n${log}`);
    }
    return sq;
  }

  accessLog(): string {
    return readOr(path.join(this.dir, 'squid', 'access.log'));
  }

  icapLog(): string {
    return readOr(path.join(this.dir, 'squid', 'icap.log'));
  }

  cacheLog(): string {
    return readOr(path.join(this.dir, 'squid', 'cache.log'));
  }

  async cleanup(): Promise<void> {
    if (this.daemon?.alive()) await this.daemon.stop(10000);
    removeTempDir(this.dir);
  }
}

function readOr(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function squidConf(sdir: string, port: number, opts: SquidOptions, passwd: string): string {
  const lines = [
    'visible_hostname squid-imgate-test',
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${sdir}/squid.pid`,
    ...(isRoot() ? ['cache_effective_user proxy'] : []),
    `cache_log ${sdir}/cache.log`,
    `access_log stdio:${sdir}/access.log`,
    'cache_store_log none',
    `coredump_dir ${sdir}`,
    'cache deny all',
    'cache_mem 8 MB',
    'pinger_enable off',
    'shutdown_lifetime 0 seconds',
    // No DNS leaves the box: tests use IP literals; anything else fails locally.
    'dns_nameservers 127.0.0.1',
  ];
  if (opts.users?.length) {
    lines.push(
      `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${passwd}`,
      'auth_param basic realm imgate-test',
      'acl authed proxy_auth REQUIRED',
      'http_access allow localhost authed',
    );
  } else {
    lines.push('http_access allow localhost');
  }
  lines.push('http_access deny all');
  if (opts.icapPort !== undefined) {
    const base = `icap://127.0.0.1:${opts.icapPort}`;
    lines.push(
      'icap_enable on',
      'icap_send_client_ip on',
      'icap_send_client_username on',
      'icap_client_username_header X-Client-Username',
      'icap_preview_enable on',
      'icap_preview_size 1024',
      'icap_service_failure_limit -1',
      // As conf/squid-imgate.conf recommends: large uploads held for AV (docs/configuration.md).
      'client_request_buffer_max_size 8 MB',
      `icap_log stdio:${sdir}/icap.log icap_squid`,
      `icap_service svc_req reqmod_precache ${base}/reqmod bypass=0`,
      `icap_service svc_resp respmod_precache ${base}/respmod bypass=0`,
      'adaptation_access svc_req allow all',
      'adaptation_access svc_resp allow all',
    );
  }
  if (opts.parentPort !== undefined) {
    lines.push(
      `cache_peer 127.0.0.1 parent ${opts.parentPort} 0 no-query no-digest default name=imgate login=PASSTHRU`,
      'never_direct allow all',
    );
  }
  return `${lines.join('\n')}\n`;
}
