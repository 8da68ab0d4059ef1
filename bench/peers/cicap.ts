// c-icap 0.5.10 with its echo service: the ICAP baseline. Config follows
// /work/shared/peers.md section 2, sized like the baseline in icap-notes.md
// section 4 (one process x 32 threads). MaxKeepAliveRequests 0 (unlimited):
// with the default 100 c-icap closes each connection after 100 requests, and
// icapload does not reconnect, so the run would stall after 8 x 100 requests.
import { chownSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { waitPort } from '../lib/ports';

const MODULES = '/usr/lib/x86_64-linux-gnu/c_icap';

export function cicapVersion(): string {
  try {
    return execFileSync('c-icap', ['-V'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export async function startCicap(tmp: string, port: number): Promise<Daemon> {
  const dir = path.join(tmp, 'cicap');
  mkdirSync(dir, { recursive: true });
  const conf = `PidFile ${dir}/c-icap.pid
CommandsSocket ${dir}/c-icap.ctl
Port 127.0.0.1:${port}
User nobody
Group nogroup
StartServers 1
MaxServers 1
MinSpareThreads 2
MaxSpareThreads 32
ThreadsPerChild 32
TmpDir ${dir}
ServerName c-icap-bench
ModulesDir ${MODULES}
ServicesDir ${MODULES}
TemplateDir /usr/share/c_icap/templates/
LoadMagicFile /etc/c-icap/c-icap.magic
DebugLevel 1
MaxKeepAliveRequests 0
ServerLog ${dir}/server.log
AccessLog ${dir}/access.log
Service echo srv_echo.so
`;
  writeFileSync(path.join(dir, 'c-icap.conf'), conf);
  // c-icap drops to nobody: it must be able to write its pid, logs and FIFO.
  chmodSync(tmp, 0o755);
  const ids = { uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })), gid: Number(execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]) };
  chownSync(dir, ids.uid, ids.gid);
  chownSync(path.join(dir, 'c-icap.conf'), ids.uid, ids.gid);
  // -N: foreground, so the spawned pid is the master we later stop.
  const d = startDaemon('c-icap', 'c-icap', ['-N', '-D', '-f', path.join(dir, 'c-icap.conf')], path.join(tmp, 'c-icap.out'));
  await unlessExits(d, waitPort(port));
  return d;
}
