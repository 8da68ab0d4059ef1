// Relay one absolute-URI request to its origin over an already dialed
// socket, and the origin's response back. Streams both bodies with pipe()
// (backpressure); one upstream connection per request, because one client
// connection from Squid carries requests for different origins.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { forwardHeaders, VIA_VALUE } from './http-headers';
import { sendError } from './http-errors';

const DROP_REQUEST = new Set(['host', 'expect']);
const DROP_NONE: ReadonlySet<string> = new Set();

export interface ForwardSpec {
  method: string;
  path: string;
  hostHeader: string;
  upstreamTimeoutMs: number;
  /** Called once with the failure (before any response byte: status sent). */
  onFailure(status: 502 | 504, detail: string): void;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, upstream: Socket, spec: ForwardSpec): void {
  // Host is replaced by the URI's authority (RFC 9112 §3.2.2); Expect was
  // already answered by Node's server (100 Continue).
  const headers = forwardHeaders(req.rawHeaders, DROP_REQUEST, ['Host', spec.hostHeader, 'Via', VIA_VALUE]);
  const upReq = http.request({
    createConnection: () => upstream,
    method: spec.method,
    path: spec.path,
    headers,
    setHost: false,
  });
  // Not the `timeout` option: Node applies that on the socket's 'connect'
  // event, which an already dialed socket never emits.
  upReq.setTimeout(spec.upstreamTimeoutMs);
  let failed = false;
  const fail = (status: 502 | 504, detail: string): void => {
    if (failed) return;
    failed = true;
    upReq.destroy();
    if (res.headersSent) {
      // Mid-body: the only honest signal left is to cut the connection.
      res.destroy();
    } else {
      sendError(res, status, detail, { close: true });
    }
    spec.onFailure(status, detail);
  };
  upReq.on('timeout', () => fail(504, 'origin did not answer in time'));
  upReq.on('error', (err) => fail(502, `origin connection failed: ${err.message}`));
  upReq.on('response', (upRes: IncomingMessage) => {
    const out = forwardHeaders(upRes.rawHeaders, DROP_NONE, ['Via', VIA_VALUE]);
    try {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
    } catch (err) {
      // Node refuses some origin heads it parsed leniently (bad status text, header chars).
      upRes.destroy();
      fail(502, `origin response rejected: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    upRes.on('error', () => res.destroy());
    upRes.pipe(res);
  });
  // Client gone before the response completed: stop the origin side too.
  res.on('close', () => {
    if (res.writableFinished) return;
    failed = true; // the client left: nothing to answer, nothing to report
    upReq.destroy();
  });
  req.on('error', () => upReq.destroy());
  req.pipe(upReq);
}
