// Holds every accepted connection open and silent (reads and discards), so
// tunnels through imgate stay idle after the client's first bytes.
// argv: port. Runs until stopped by the bench.
import net from 'node:net';

const port = Number(process.argv[2]);
const held: net.Socket[] = [];
const srv = net.createServer((s) => {
  held.push(s);
  s.on('data', () => undefined);
  s.on('error', () => undefined);
});
srv.maxConnections = 1e6;
srv.listen(port, '127.0.0.1', 4096);
