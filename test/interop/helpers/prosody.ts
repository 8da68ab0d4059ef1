// A real Prosody 0.12 c2s server for XMPP interop (peers.md §4): free ports,
// a temp dir, plaintext PLAIN auth, mod_smacks (XEP-0198) on, started as user
// prosody via setpriv (never as root: mod_posix would disable c2s), and
// registered test users. Debug logging: mod_smacks reports its queue there.
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, run } from './process';
import { freePorts, waitPort } from './ports';
import { chownTree, isRoot, makeTempDir, removeTempDir } from './tmpdir';

export const XMPP_DOMAIN = 'imgate.test';

export interface XmppUser {
  name: string;
  password: string;
}

export class Prosody {
  private constructor(
    readonly dir: string,
    readonly c2sPort: number,
    readonly httpPort: number,
    readonly daemon: Daemon,
  ) {}

  /** BOSH endpoint (needs `start(users, { http: true })`). */
  get boshUrl(): string {
    return `http://127.0.0.1:${this.httpPort}/http-bind`;
  }

  /** `http: true` adds mod_bosh and mod_websocket on httpPort (peers.md §4). */
  static async start(users: XmppUser[], opts: { http?: boolean } = {}): Promise<Prosody> {
    const httpMods = opts.http === true ? ' "bosh"; "websocket";' : '';
    const httpCfg = opts.http === true ? 'consider_bosh_secure = true\nconsider_websocket_secure = true\n' : '';
    const dir = makeTempDir('prosody');
    const pdir = path.join(dir, 'prosody');
    fs.mkdirSync(path.join(pdir, 'data'), { recursive: true });
    fs.mkdirSync(path.join(pdir, 'certs'), { recursive: true });
    const [c2s, http] = await freePorts(2) as [number, number];
    const cfg = path.join(pdir, 'prosody.cfg.lua');
    fs.writeFileSync(
      cfg,
      `pidfile = "${pdir}/prosody.pid"
data_path = "${pdir}/data"
certificates = "${pdir}/certs"
log = { { levels = { min = "debug" }, to = "console" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s} }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = { ${http} }
http_interfaces = { "127.0.0.1" }
https_ports = {}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "smacks"; "posix";${httpMods} }
modules_disabled = { "s2s"; "tls" }
${httpCfg}VirtualHost "${XMPP_DOMAIN}"
`,
    );
    chownTree(pdir, 'prosody');
    for (const u of users) {
      const r = await run('prosodyctl', ['--config', cfg, 'register', u.name, XMPP_DOMAIN, u.password], { timeoutMs: 20000 });
      if (r.code !== 0) throw new Error(`prosodyctl register ${u.name}: ${r.stderr}`);
    }
    // prosodyctl ran as root and may have created files root-owned.
    chownTree(pdir, 'prosody');
    const args = ['--config', cfg, '-F'];
    const daemon = isRoot()
      ? new Daemon('prosody', 'setpriv', ['--reuid=prosody', '--regid=prosody', '--init-groups', 'prosody', ...args], { logFile: path.join(dir, 'prosody.log') })
      : new Daemon('prosody', 'prosody', args, { logFile: path.join(dir, 'prosody.log') });
    const p = new Prosody(dir, c2s, http, daemon);
    try {
      await waitPort(c2s, { alive: () => daemon.alive(), what: 'prosody' });
      if (opts.http === true) await waitPort(http, { alive: () => daemon.alive(), what: 'prosody http' });
    } catch (err) {
      await p.cleanup();
      throw new Error(`${(err as Error).message}\n${daemon.stdout()}\n${daemon.stderr()}`);
    }
    return p;
  }

  async cleanup(): Promise<void> {
    await this.daemon.stop(5000);
    removeTempDir(this.dir);
  }
}
