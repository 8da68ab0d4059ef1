// SocksForwarder: a local port whose every connection becomes a SOCKS5
// CONNECT through a SOCKS server (imgate's door), because @xmpp/client has no
// SOCKS option. The XMPP bytes still cross imgate's real SOCKS5 door.
import net from 'node:net';
import { SocksClient } from 'socks';

function listen(srv: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port));
  });
}

export class SocksForwarder {
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(socksPort: number, dest: { host: string; port: number }): Promise<SocksForwarder> {
    let fwd: SocksForwarder | null = null;
    const srv = net.createServer((local) => {
      const f = fwd as SocksForwarder;
      f.sockets.add(local);
      local.pause();
      local.on('error', () => local.destroy());
      local.on('close', () => f.sockets.delete(local));
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: socksPort, type: 5 },
        command: 'connect',
        destination: dest,
        timeout: 5000,
      }).then(
        ({ socket }) => {
          f.sockets.add(socket);
          socket.on('error', () => local.destroy());
          socket.on('close', () => {
            f.sockets.delete(socket);
            local.end();
          });
          local.on('close', () => socket.destroy());
          local.pipe(socket);
          socket.pipe(local);
          local.resume();
        },
        () => local.destroy(),
      );
    });
    const port = await listen(srv);
    fwd = new SocksForwarder(srv, port);
    return fwd;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
