// Small socket helpers shared by the clamd and ICAP clients.
import net from 'node:net';
import { ScanError, abortError } from './scanner';

export type Endpoint = { host: string; port: number } | { path: string };

export function connect(ep: Endpoint, signal: AbortSignal): net.Socket {
  const sock = 'path' in ep ? net.connect({ path: ep.path }) : net.connect({ host: ep.host, port: ep.port });
  const onAbort = (): void => {
    sock.destroy(abortError(signal));
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  sock.once('close', () => signal.removeEventListener('abort', onAbort));
  return sock;
}

/** Resolves once the socket can take more, or is gone (the caller checks which). */
export function writable(sock: net.Socket): Promise<void> {
  if (!sock.writableNeedDrain || sock.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

export function ioError(err: unknown, what: string): ScanError {
  if (err instanceof ScanError) return err;
  const e = err as NodeJS.ErrnoException;
  return new ScanError(`${what}: ${e.code ?? e.message}`, 'io');
}

/** Write errors the peer causes by replying early and closing (clamd over its size limit). */
export function isPeerClosed(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}
