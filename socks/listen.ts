// Binding a listener: a bind failure (port in use, bad address) rejects the
// start; once bound, later server errors are logged instead of crashing.
import type net from 'node:net';
import type { DoorLogger } from './types';

export function listenOn(server: net.Server, port: number, host: string, logger: DoorLogger, door: string): Promise<{ address: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onListenError = (err: Error): void => reject(err);
    server.once('error', onListenError);
    server.listen(port, host, () => {
      server.removeListener('error', onListenError);
      server.on('error', (err) => logger.error({ door, err: err.message }, 'listener error'));
      const a = server.address() as net.AddressInfo;
      resolve({ address: a.address, port: a.port });
    });
  });
}
