// A lean raw-socket IRC client for the IM bench: the tunnel comes from
// handshake.ts (direct or a hand-written SOCKS5 exchange), then plain lines.
// No library, so the client's own cost is small and identical on both paths.
import type net from 'node:net';
import { openTunnel, type Target } from './handshake';

export interface IrcConn {
  sock: net.Socket;
  /** Replaced by callers once registered; gets each line without CRLF. */
  onLine: (line: string) => void;
}

/** Split a byte stream into CRLF lines; answers server PINGs itself. */
function attachReader(c: IrcConn, first: Buffer): void {
  let pending = '';
  const feed = (d: Buffer): void => {
    // latin1: one char per byte, so byte counts stay exact and nothing is re-encoded.
    pending += d.toString('latin1');
    let i: number;
    while ((i = pending.indexOf('\r\n')) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 2);
      if (line.startsWith('PING ')) c.sock.write(`PONG ${line.slice(5)}\r\n`);
      else c.onLine(line);
    }
  };
  c.sock.on('data', feed);
  if (first.length) feed(first);
}

function waitFor(c: IrcConn, re: RegExp, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`IRC: no ${what} after ${timeoutMs} ms`)), timeoutMs);
    c.onLine = (l) => {
      if (re.test(l)) { clearTimeout(timer); c.onLine = () => undefined; resolve(); }
      else if (/^ERROR /.test(l)) { clearTimeout(timer); reject(new Error(`IRC: ${l}`)); }
    };
  });
}

/** Connect through `t`, register as `nick` (waits for 001), join `channel` (waits for 366). */
export function ircJoin(t: Target, nick: string, channel: string, timeoutMs = 10000): Promise<IrcConn> {
  return new Promise((resolve, reject) => {
    openTunnel(t, (err, sock, rest) => {
      if (err) { reject(err); return; }
      const c: IrcConn = { sock, onLine: () => undefined };
      sock.on('error', () => undefined); // reported through the timeouts below
      attachReader(c, rest);
      const reg = waitFor(c, / 001 /, '001 welcome', timeoutMs);
      sock.write(`NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`);
      reg
        .then(() => { const j = waitFor(c, / 366 /, `366 for ${channel}`, timeoutMs); sock.write(`JOIN ${channel}\r\n`); return j; })
        .then(() => resolve(c), (e: unknown) => { sock.destroy(); reject(e); });
    });
  });
}
