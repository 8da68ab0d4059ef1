// ICAP/1.0 server: accepts connections, enforces Max-Connections (503) and
// drains on close. Protocol work lives in connection.ts / transaction.ts.
import net from 'node:net';
import { IcapConnection, type ConnectionOwner } from './connection';
import { ResponseHeads } from './responses';
import { resolveSettings } from './settings';
import type { IcapServer, IcapServerOptions } from './types';

export function createIcapServer(opts: IcapServerOptions): IcapServer {
  const settings = resolveSettings(opts);
  const heads = new ResponseHeads(settings.istag);
  const conns = new Set<IcapConnection>();
  let nextId = 0;
  let draining = false;
  let drainDone: (() => void) | null = null;

  const owner: ConnectionOwner = {
    draining: () => draining,
    connectionClosed(conn) {
      conns.delete(conn);
      settings.observer?.onConnection?.(-1);
      if (draining && drainDone !== null && conns.size === 0) drainDone();
    },
  };

  // allowHalfOpen: a client may half-close after its last request and still read the answer.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const refuse = conns.size >= settings.maxConnections || draining;
    const conn = new IcapConnection(socket, `c${++nextId}`, settings, heads, owner, refuse);
    conns.add(conn);
    settings.observer?.onConnection?.(1);
    if (refuse) {
      settings.logger.warn({ conn: conn.connectionId, client: conn.clientLabel, max: settings.maxConnections }, 'ICAP connection over Max-Connections: answering 503');
    }
  });
  server.on('error', (err) => settings.logger.error({ err: err.message }, 'ICAP listener error'));

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen({ port, host }, () => {
          server.off('error', onError);
          const a = server.address() as net.AddressInfo;
          settings.logger.info({ address: a.address, port: a.port }, 'ICAP server listening');
          resolve({ address: a.address, port: a.port });
        });
      });
    },

    close(drainMs) {
      draining = true;
      const listenerClosed = new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      for (const c of conns) c.drain();
      const drained = new Promise<void>((resolve) => {
        if (conns.size === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          settings.logger.warn({ open: conns.size, drainMs }, 'ICAP drain timeout: destroying connections');
          for (const c of conns) c.socket.destroy();
          resolve();
        }, drainMs);
        timer.unref();
        drainDone = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      return Promise.all([listenerClosed, drained]).then(() => undefined);
    },

    connections: () => conns.size,
  };
}
