// Targets behind the proxies, in their own process so their CPU is not the
// load generator's:
//  - bulk sink: reads an 8-byte big-endian byte count, then that many bytes,
//    then answers one byte 'K' (so the sender times the full delivery).
//  - origin: for connections/s; reads a fixed-size request, writes a
//    fixed-size response and closes first (TIME_WAIT stays server-side, so
//    client ephemeral ports do not run out).
//   node dist/bench/load/servers.js SINK_PORT ORIGIN_PORT
import net from 'node:net';
import { REQUEST_BYTES, RESPONSE } from './wire';

const [sinkPort, originPort] = process.argv.slice(2).map(Number);

net.createServer((s) => {
  let want = -1;
  let got = 0;
  let head: Buffer | null = null;
  s.on('data', (d: Buffer) => {
    if (want < 0) {
      head = head ? Buffer.concat([head, d]) : d;
      if (head.length < 8) return;
      want = Number(head.readBigUInt64BE(0));
      got = head.length - 8;
      head = null;
    } else {
      got += d.length;
    }
    if (got >= want) s.write('K');
  });
  s.on('error', () => s.destroy());
}).listen(sinkPort, '127.0.0.1');

net.createServer((s) => {
  let got = 0;
  s.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= REQUEST_BYTES) s.end(RESPONSE);
  });
  s.on('error', () => s.destroy());
}).listen(originPort, '127.0.0.1');
