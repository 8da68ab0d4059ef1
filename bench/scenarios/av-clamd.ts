// clamd for the AV bench: custom signatures only (peers.md §3), free TCP
// port, foreground so the spawned pid is the daemon we stop. Plus a bare
// zINSTREAM client: the baseline "calling clamd directly" that the AV
// service's scan path is compared with.
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { waitPort } from '../lib/ports';

export const BENCH_MARKER = 'IMGATE-BENCH-AV-MARKER-77c1';

export async function startClamd(tmp: string, port: number): Promise<Daemon> {
  const dir = path.join(tmp, 'clamd');
  mkdirSync(path.join(dir, 'db'), { recursive: true });
  writeFileSync(path.join(dir, 'db', 'bench.ndb'), `Imgate.Bench.Marker:0:*:${Buffer.from(BENCH_MARKER).toString('hex')}\n`);
  const conf = [
    `TCPSocket ${port}`, 'TCPAddr 127.0.0.1', 'Foreground yes', `DatabaseDirectory ${dir}/db`, `PidFile ${dir}/clamd.pid`,
    `TemporaryDirectory ${dir}`, 'MaxThreads 4', 'StreamMaxLength 100M', 'SelfCheck 0', 'Bytecode no',
  ];
  writeFileSync(path.join(dir, 'clamd.conf'), `${conf.join('\n')}\n`);
  const d = startDaemon('clamd', 'clamd', [`--config-file=${dir}/clamd.conf`], path.join(tmp, 'clamd.out'));
  await unlessExits(d, waitPort(port, 30_000));
  return d;
}

/** One zINSTREAM scan with no framing beyond the protocol: the reply line. */
export function instream(port: number, content: Buffer, chunkBytes = 65_536): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    sock.on('connect', () => {
      sock.write('zINSTREAM\0');
      for (let off = 0; off < content.length; off += chunkBytes) {
        const piece = content.subarray(off, off + chunkBytes);
        const len = Buffer.allocUnsafe(4);
        len.writeUInt32BE(piece.length, 0);
        sock.write(len);
        sock.write(piece);
      }
      sock.write(Buffer.alloc(4));
    });
    sock.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      const nul = reply.indexOf('\0');
      if (nul >= 0) {
        sock.destroy();
        resolve(reply.slice(0, nul));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(reply));
  });
}
