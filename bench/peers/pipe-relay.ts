// Reference relay: the least a Node SOCKS5 proxy can do. Minimal handshake
// (no auth, CONNECT to IPv4 only), then socket.pipe both ways. Its throughput
// is the ceiling a Node relay reaches on this machine. Run as its own process:
//   node dist/bench/peers/pipe-relay.js PORT
import net from 'node:net';

const port = Number(process.argv[2]);
// noDelay like imgate's doors and dial: with Nagle on, small writes (XMPP
// stanzas) stall behind delayed ACKs and the baseline is not a fair one.
net.createServer({ noDelay: true }, (c) => {
  let buf: Buffer = Buffer.alloc(0);
  let greeted = false;
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    if (buf[0] !== 5 || buf.length < 2 || buf.length < 2 + buf[1]!) return;
    const greet = 2 + buf[1]!;
    if (!greeted) { greeted = true; c.write(Buffer.from([5, 0])); } // method reply: no auth
    if (buf.length < greet + 10) return; // VER CMD RSV ATYP(1) ADDR(4) PORT(2)
    c.removeListener('data', onData);
    c.pause();
    const req = buf.subarray(greet);
    const up = net.connect({ port: req.readUInt16BE(8), host: `${req[4]}.${req[5]}.${req[6]}.${req[7]}`, noDelay: true }, () => {
      c.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      if (buf.length > greet + 10) up.write(buf.subarray(greet + 10));
      c.pipe(up).pipe(c);
    });
    up.on('error', () => c.destroy());
    c.on('error', () => up.destroy());
  };
  c.on('data', onData);
}).listen(port, '127.0.0.1');
// Exit normally on TERM so `node --cpu-prof` can write its profile.
process.on('SIGTERM', () => process.exit(0));
