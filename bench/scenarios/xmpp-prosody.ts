// Prosody 0.12 as the XMPP peer of the XMPP bench (peers.md §4; same config
// as test/interop/helpers/prosody.ts): loopback, free c2s port, plain SASL
// allowed (no TLS), no rate limits module (mod_limits is not loaded), and
// TCP_NODELAY on its sockets (see the Nagle note in the config). Runs as
// user prosody (setpriv) when the bench runs as root.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { freePort, waitPort } from '../lib/ports';

export const BENCH_XMPP_DOMAIN = 'bench.test';
/** Prosody's Nagle setting in this run (see the config below). */
export const PROSODY_NAGLE = process.env.BENCH_XMPP_PROSODY_NAGLE === '1';

export interface BenchProsody extends Daemon {
  c2sPort: number;
}

export function prosodyVersion(): string {
  try {
    const out = execFileSync('prosodyctl', ['about'], { encoding: 'utf8', timeout: 10000 });
    return /Prosody\s+(\S+)/.exec(out)?.[0] ?? 'prosody';
  } catch {
    return 'prosody (version unknown)';
  }
}

/** `globalLua`: extra global config lines (diagnostics: e.g. network_settings). */
export async function startBenchProsody(tmp: string, users: Array<{ name: string; password: string }>, globalLua = ''): Promise<BenchProsody> {
  const dir = path.join(tmp, 'prosody');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  chmodSync(tmp, 0o755);
  const c2sPort = await freePort();
  const cfg = path.join(dir, 'prosody.cfg.lua');
  writeFileSync(
    cfg,
    `pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}/certs"
log = { { levels = { min = "warn" }, to = "console" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
modules_enabled = { "roster"; "saslauth"; "disco"; "posix"; }
modules_disabled = { "s2s"; "tls" }
-- Nagle on Prosody's sockets (its default) holds each small write to the
-- receiver until the previous one is ACKed, and the receiver (which sends
-- nothing back) ACKs late: 40 ms delayed-ACK stalls, every path alike, that
-- made rate runs swing 2k..18k msg/s. BENCH_XMPP_PROSODY_NAGLE=1 restores it.
${PROSODY_NAGLE ? '' : 'network_settings = { nagle = false }'}
${globalLua}
VirtualHost "${BENCH_XMPP_DOMAIN}"
`,
  );
  const root = process.getuid?.() === 0;
  if (root) execFileSync('chown', ['-R', 'prosody:prosody', dir]);
  for (const u of users) {
    execFileSync('prosodyctl', ['--config', cfg, 'register', u.name, BENCH_XMPP_DOMAIN, u.password], { timeout: 20000, stdio: 'ignore' });
  }
  if (root) execFileSync('chown', ['-R', 'prosody:prosody', dir]);
  const args = ['--config', cfg, '-F'];
  const d = root
    ? startDaemon('prosody', 'setpriv', ['--reuid=prosody', '--regid=prosody', '--init-groups', 'prosody', ...args], path.join(dir, 'prosody.log'))
    : startDaemon('prosody', 'prosody', args, path.join(dir, 'prosody.log'));
  await unlessExits(d, waitPort(c2sPort));
  return { ...d, c2sPort };
}
