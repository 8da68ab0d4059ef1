// Opens the upstream TCP connection for a tunnel, with a connect timeout, and
// maps socket errors to the refusal reason the door reports to the client.
import net from 'node:net';
import { DialError, type RefusalReason, type TunnelRequest } from '../../socks/types';

export function reasonForError(err: unknown): RefusalReason {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection-refused';
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return 'host-unreachable';
    case 'ENETUNREACH':
      return 'network-unreachable';
    case 'ETIMEDOUT':
      return 'ttl-expired';
    default:
      return 'general-failure';
  }
}

function ignoreError(): void {}

export function dial(req: TunnelRequest, connectTimeoutMs: number): Promise<net.Socket> {
  const { host, port } = req.destination;
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the relay propagates each direction's end separately.
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(new DialError(reasonForError(err), `connect ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    };
    const onTimeout = (): void => {
      const err: NodeJS.ErrnoException = new Error(`no answer within ${connectTimeoutMs} ms`);
      err.code = 'ETIMEDOUT';
      fail(err);
    };
    const onConnect = (): void => {
      cleanup();
      // Until the relay attaches its own handler, an error must not crash the
      // process; the relay sees the socket destroyed and tears down.
      socket.on('error', ignoreError);
      resolve(socket);
    };
    const timer = setTimeout(onTimeout, connectTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', fail);
      socket.removeListener('connect', onConnect);
    };
    socket.once('error', fail);
    socket.once('connect', onConnect);
  });
}
