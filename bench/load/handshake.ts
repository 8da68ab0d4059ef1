// Lean client side of the proxy handshakes (SOCKS5 no-auth CONNECT to an IPv4
// literal, or HTTP CONNECT), written by hand so client overhead stays low
// and equal for every proxy under test. 'direct' skips the proxy; 'forward'
// connects to a plain TCP forwarder (HAProxy `mode tcp`, a redirect listener)
// whose upstream is fixed by its own config, so there is no handshake.
import net from 'node:net';

export type Mode = 'direct' | 'socks5' | 'http' | 'forward';

export interface Target {
  mode: Mode;
  /** Proxy port (ignored for direct; the forwarder's port for forward). */
  proxyPort: number;
  /** Destination port on 127.0.0.1. */
  dstPort: number;
}

const GREETING = Buffer.from([5, 1, 0]);

function socksRequest(port: number): Buffer {
  return Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 255]);
}

/** Length of a complete SOCKS5 reply at the start of b, or -1 if incomplete. */
function socksReplyLength(b: Buffer): number {
  if (b.length < 5) return -1;
  const atyp = b[3];
  const n = atyp === 1 ? 10 : atyp === 4 ? 22 : atyp === 3 ? 7 + b[4]! : 10;
  return b.length >= n ? n : -1;
}

/**
 * Open a connection to the destination through the target. Calls back once
 * the tunnel is up with the socket (flowing listeners removed) and any bytes
 * read past the handshake.
 */
export function openTunnel(t: Target, cb: (err: Error | null, s: net.Socket, rest: Buffer) => void): net.Socket {
  const s = net.connect(t.mode === 'direct' ? t.dstPort : t.proxyPort, '127.0.0.1');
  s.setNoDelay(true);
  let done = false;
  const fail = (e: Error): void => { if (!done) { done = true; s.destroy(); cb(e, s, Buffer.alloc(0)); } };
  s.once('error', fail);
  if (t.mode === 'direct' || t.mode === 'forward') {
    s.once('connect', () => { done = true; s.removeListener('error', fail); cb(null, s, Buffer.alloc(0)); });
    return s;
  }
  let buf: Buffer = Buffer.alloc(0);
  let stage = 0;
  const finish = (rest: Buffer): void => {
    done = true;
    s.removeListener('data', onData);
    s.removeListener('error', fail);
    cb(null, s, rest);
  };
  const onData = (d: Buffer): void => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    if (t.mode === 'socks5') {
      if (stage === 0) {
        if (buf.length < 2) return;
        if (buf[0] !== 5 || buf[1] !== 0) return fail(new Error(`SOCKS5 method reply ${buf.subarray(0, 2).toString('hex')}`));
        buf = buf.subarray(2);
        stage = 1;
        s.write(socksRequest(t.dstPort));
      }
      const n = socksReplyLength(buf);
      if (n < 0) return;
      if (buf[1] !== 0) return fail(new Error(`SOCKS5 reply code ${buf[1]}`));
      finish(buf.subarray(n));
    } else {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = buf.subarray(0, 12).toString('latin1');
      if (!/^HTTP\/1\.[01] 200/.test(status)) return fail(new Error(`HTTP CONNECT answered: ${buf.subarray(0, end).toString('latin1')}`));
      finish(buf.subarray(end + 4));
    }
  };
  s.on('data', onData);
  s.once('connect', () => {
    if (t.mode === 'socks5') s.write(GREETING);
    else s.write(`CONNECT 127.0.0.1:${t.dstPort} HTTP/1.1\r\nHost: 127.0.0.1:${t.dstPort}\r\n\r\n`);
  });
  return s;
}

export function parseTarget(argv: string[]): Target {
  const [mode, proxyPort, dstPort] = argv;
  if (mode !== 'direct' && mode !== 'socks5' && mode !== 'http' && mode !== 'forward') throw new Error(`bad mode ${mode}`);
  return { mode, proxyPort: Number(proxyPort), dstPort: Number(dstPort) };
}
