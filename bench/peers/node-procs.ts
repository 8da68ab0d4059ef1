// The bench's own Node processes: sink/origin targets and the bare
// socket.pipe reference relay. Each runs in its own process so its CPU is
// separate from the load generators'.
import path from 'node:path';
import { startDaemon, unlessExits, type Daemon } from '../lib/proc';
import { waitPort } from '../lib/ports';

const DIST_BENCH = path.resolve(__dirname, '..');

export async function startServers(tmp: string, sinkPort: number, originPort: number): Promise<Daemon> {
  const d = startDaemon('sink+origin', process.execPath, [path.join(DIST_BENCH, 'load', 'servers.js'), String(sinkPort), String(originPort)], path.join(tmp, 'servers.out'));
  await unlessExits(d, Promise.all([waitPort(sinkPort), waitPort(originPort)]));
  return d;
}

export async function startPipeRelay(tmp: string, port: number): Promise<Daemon> {
  const d = startDaemon('pipe-relay', process.execPath, [path.join(DIST_BENCH, 'peers', 'pipe-relay.js'), String(port)], path.join(tmp, 'pipe-relay.out'));
  await unlessExits(d, waitPort(port));
  return d;
}
