// Ending a refused connection without losing the refusal. Closing a socket
// with unread input makes the kernel send RST, and an RST can make the peer
// discard our reply before reading it. So: send the reply with FIN, drain and
// discard input until the peer closes, and destroy after a short linger.
import type { Socket } from 'node:net';

export const LINGER_MS = 1000;

function onLingerTimeout(this: Socket): void {
  this.destroy();
}

function onPeerEnd(this: Socket): void {
  this.destroy();
}

function onIgnoredError(): void {
  // The connection is being discarded; a late ECONNRESET is expected.
}

/** Write `reply` (if any), half-close, discard input, destroy after LINGER_MS at most. */
export function endWith(socket: Socket, reply: Buffer | string | null): void {
  if (socket.destroyed) return;
  socket.removeAllListeners('data');
  socket.removeAllListeners('timeout');
  socket.removeAllListeners('end');
  socket.on('error', onIgnoredError);
  socket.on('end', onPeerEnd);
  socket.on('timeout', onLingerTimeout);
  socket.setTimeout(LINGER_MS);
  if (reply !== null) socket.end(reply);
  else socket.end();
  socket.resume();
}
