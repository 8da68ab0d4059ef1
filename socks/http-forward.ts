// Relay one absolute-URI request to its origin over an already dialed
// socket, and the origin's response back. Streams both bodies with pipe()
// (backpressure); one upstream connection per request, because one client
// connection from Squid carries requests for different origins.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { forwardHeaders, VIA_VALUE } from './http-headers';
import { sendError } from './http-errors';
import { holdBody } from './body-hold';
import type { ForwardBodyInspector } from './types';

const DROP_REQUEST = new Set(['host', 'expect']);
const DROP_NONE: ReadonlySet<string> = new Set();
// A held body is sent with its own length, whatever framing it came with.
const DROP_REQUEST_HELD = new Set(['host', 'expect', 'content-length', 'transfer-encoding']);
const DROP_FRAMING = new Set(['content-length', 'transfer-encoding']);

/** Responses that never have a body (RFC 9112 §6.3). */
function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

export interface ForwardSpec {
  method: string;
  path: string;
  hostHeader: string;
  upstreamTimeoutMs: number;
  /** Holds and rewrites the bodies of this exchange (src/'s IM inspection); absent: stream. */
  inspector?: ForwardBodyInspector;
  /** Called once with the failure (before any response byte: status sent). */
  onFailure(status: 413 | 502 | 504, detail: string): void;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, upstream: Socket, spec: ForwardSpec): void {
  const insp = spec.inspector;
  let upReq: http.ClientRequest | null = null;
  let failed = false;
  const fail = (status: 413 | 502 | 504, detail: string): void => {
    if (failed) return;
    failed = true;
    if (upReq !== null) upReq.destroy();
    else upstream.destroy();
    if (res.headersSent) {
      // Mid-body: the only honest signal left is to cut the connection.
      res.destroy();
    } else {
      sendError(res, status, detail, { close: true });
    }
    spec.onFailure(status, detail);
  };
  // Client gone before the response completed: stop the origin side too.
  res.on('close', () => {
    if (res.writableFinished) return;
    failed = true; // the client left: nothing to answer, nothing to report
    if (upReq !== null) upReq.destroy();
    else upstream.destroy();
  });
  req.on('error', () => (upReq !== null ? upReq.destroy() : upstream.destroy()));
  if (insp === undefined || !insp.holdRequest) {
    upReq = sendUpstream(req, res, upstream, spec, null, fail);
    req.pipe(upReq);
    return;
  }
  holdBody(req, insp.maxBodyBytes, (r) => {
    if (failed) return;
    if (!r.ok) {
      if (r.why === 'too-large') fail(413, 'request body too large to inspect');
      else upstream.destroy();
      return;
    }
    let body: Buffer;
    try {
      body = insp.request(r.body);
    } catch (err) {
      fail(502, `request inspection failed: ${messageOf(err)}`);
      return;
    }
    upReq = sendUpstream(req, res, upstream, spec, body, fail);
    upReq.end(body);
  });
}

type Fail = (status: 413 | 502 | 504, detail: string) => void;

/** The upstream request (its head is written at once); `held`: the body that will follow, framed by length. */
function sendUpstream(req: IncomingMessage, res: ServerResponse, upstream: Socket, spec: ForwardSpec, held: Buffer | null, fail: Fail): http.ClientRequest {
  // Host is replaced by the URI's authority (RFC 9112 §3.2.2); Expect was
  // already answered by Node's server (100 Continue).
  const extra = ['Host', spec.hostHeader, 'Via', VIA_VALUE];
  if (held !== null) extra.push('Content-Length', String(held.length));
  const headers = forwardHeaders(req.rawHeaders, held !== null ? DROP_REQUEST_HELD : DROP_REQUEST, extra);
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
  upReq.on('timeout', () => fail(504, 'origin did not answer in time'));
  upReq.on('error', (err) => fail(502, `origin connection failed: ${err.message}`));
  upReq.on('response', (upRes: IncomingMessage) => onResponse(upRes, res, spec, fail));
  return upReq;
}

function onResponse(upRes: IncomingMessage, res: ServerResponse, spec: ForwardSpec, fail: Fail): void {
  const insp = spec.inspector;
  const status = upRes.statusCode ?? 502;
  let hold = false;
  if (insp !== undefined && !bodiless(spec.method, status)) {
    try {
      hold = insp.holdResponse(status, upRes.headers);
    } catch (err) {
      upRes.destroy();
      fail(502, `response inspection failed: ${messageOf(err)}`);
      return;
    }
  }
  if (insp === undefined || !hold) {
    const out = forwardHeaders(upRes.rawHeaders, DROP_NONE, ['Via', VIA_VALUE]);
    try {
      res.writeHead(status, upRes.statusMessage, out);
    } catch (err) {
      // Node refuses some origin heads it parsed leniently (bad status text, header chars).
      upRes.destroy();
      fail(502, `origin response rejected: ${messageOf(err)}`);
      return;
    }
    upRes.on('error', () => res.destroy());
    upRes.pipe(res);
    return;
  }
  holdBody(upRes, insp.maxBodyBytes, (r) => {
    if (!r.ok) {
      upRes.destroy();
      fail(502, r.why === 'too-large' ? 'origin response body too large to inspect' : 'origin response ended early');
      return;
    }
    let body: Buffer;
    try {
      body = insp.response(r.body);
    } catch (err) {
      fail(502, `response inspection failed: ${messageOf(err)}`);
      return;
    }
    const out = forwardHeaders(upRes.rawHeaders, DROP_FRAMING, ['Via', VIA_VALUE, 'Content-Length', String(body.length)]);
    try {
      res.writeHead(status, upRes.statusMessage, out);
    } catch (err) {
      fail(502, `origin response rejected: ${messageOf(err)}`);
      return;
    }
    res.end(body);
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
