// HTTP proxy door: CONNECT tunnels (handed to src/ via onTunnel) and
// absolute-URI requests forwarded per request (Squid cache_peer parent).
// Node's http server does the parsing (maxHeaderSize, headersTimeout); this
// file does access checks, error statuses and the hand-over.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import { listenOn } from './listen';
import type { Door, DoorHooks, DoorLogger, ForwardBodyInspector, ForwardedRequest, HttpProxyDoorOptions, PartialTunnelRequest, RefusalReason, RefusedKind, TunnelRequest } from './types';
import { endWith } from './close';
import { HTTP_STATUS, messageOf, reasonOfDialError, reportRefusal } from './refusal';
import { parseBasic } from './http-headers';
import { rawError, sendError } from './http-errors';
import { parseAbsoluteTarget, parseAuthority } from './http-target';
import { forwardRequest } from './http-forward';


const FORWARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
const ALLOW_HEADER = 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, CONNECT';
const CONNECTION_ESTABLISHED = 'HTTP/1.1 200 Connection established\r\n\r\n';
const DEFAULT_UPSTREAM_TIMEOUT_MS = 60000;

/** Per client connection. */
interface Conn {
  id: string;
  client: { address: string; port: number };
  requests: number;
  /** Requests whose response is not finished (a parse error then must not write). */
  active: number;
}

function onConnectSocketError(this: net.Socket): void {
  this.destroy();
}

function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  return te !== undefined || (cl !== undefined && cl !== '0');
}

class HttpProxyDoor implements Door {
  readonly name = 'http' as const;
  private readonly logger: DoorLogger;
  private readonly hooks: DoorHooks;
  private readonly server: http.Server;
  private readonly conns = new WeakMap<net.Socket, Conn>();
  private readonly upstreamTimeoutMs: number;
  private seq = 0;
  private inFlight = 0;

  constructor(private readonly opts: HttpProxyDoorOptions) {
    this.logger = opts.logger;
    this.hooks = opts.hooks;
    this.upstreamTimeoutMs = opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    this.server = http.createServer({
      maxHeaderSize: opts.maxHeaderBytes,
      headersTimeout: opts.headerTimeoutMs,
      // Bodies stream for as long as they make progress; idleness is
      // bounded by the socket timeout below instead.
      requestTimeout: 0,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
      // headersTimeout is only enforced at this period.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(opts.headerTimeoutMs / 4))),
      requireHostHeader: false,
      noDelay: true,
    });
    // Backstop idle timeout on client sockets. The upstream timeout (504 /
    // abort) normally fires first, also for stalled uploads and readers, so
    // this one is set strictly longer to not race it.
    this.server.timeout = this.upstreamTimeoutMs + Math.max(1000, opts.headerTimeoutMs);
    this.server.on('connection', (socket: net.Socket) => this.onConnection(socket));
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    this.server.on('connect', (req: IncomingMessage, socket: net.Socket, head: Buffer) => this.onConnect(req, socket, head));
    this.server.on('clientError', (err: Error & { code?: string }, socket: net.Socket) => this.onClientError(err, socket));
  }

  listen(): Promise<{ address: string; port: number }> {
    return listenOn(this.server, this.opts.port, this.opts.host, this.logger, 'http');
  }

  close(): Promise<void> {
    // Resolve once the listener is closed; in-flight forwarded requests may
    // finish (idle keep-alive connections are closed by server.close()).
    if (this.server.listening) this.server.close();
    this.server.closeIdleConnections();
    return Promise.resolve();
  }

  pending(): number {
    return this.inFlight;
  }

  private onConnection(socket: net.Socket): void {
    const id = `hp-${++this.seq}`;
    const client = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    let allowed = false;
    try {
      allowed = this.hooks.allowClient(client.address);
    } catch (err) {
      this.logger.error({ conn: id, client: client.address, err: messageOf(err) }, 'allowClient hook threw');
    }
    if (!allowed) {
      socket.destroy();
      this.report({ door: 'http', id, client }, 'client-not-allowed', 'client address not in allowlist', 0);
      return;
    }
    this.conns.set(socket, { id, client, requests: 0, active: 0 });
  }

  private connOf(socket: net.Socket): Conn {
    let c = this.conns.get(socket);
    if (!c) {
      // Unreachable: every accepted socket got a Conn in onConnection.
      c = { id: `hp-${++this.seq}`, client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, requests: 0, active: 0 };
      this.conns.set(socket, c);
    }
    return c;
  }

  /** Credentials check for both paths; resolves to the user, or null to refuse with 407. */
  private async checkAuth(req: IncomingMessage, conn: Conn): Promise<{ ok: boolean; user?: string }> {
    if (this.opts.auth !== 'basic') return { ok: true };
    const creds = parseBasic(req.headers['proxy-authorization']);
    if (!creds) return { ok: false };
    try {
      const ok = await this.hooks.authenticate(creds.user, creds.password);
      return ok === true ? { ok: true, user: creds.user } : { ok: false, user: creds.user };
    } catch (err) {
      this.logger.error({ conn: conn.id, client: conn.client.address, user: creds.user, err: messageOf(err) }, 'authenticate hook failed');
      return { ok: false, user: creds.user };
    }
  }

  private destinationAllowed(req: TunnelRequest): RefusalReason | null {
    try {
      return this.hooks.allowDestination(req) ? null : 'not-allowed';
    } catch (err) {
      this.logger.error({ conn: req.id, err: messageOf(err) }, 'allowDestination hook threw');
      return 'general-failure';
    }
  }

  private dial(req: TunnelRequest): Promise<net.Socket> {
    try {
      return this.hooks.dial(req);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // ---- absolute-URI forwarding -------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.connOf(req.socket);
    conn.active++;
    res.once('close', () => conn.active--);
    this.forward(req, res, conn).catch((err: unknown) => {
      // A hook or Node (e.g. a header value it refuses to send) threw: the
      // request fails, the process does not.
      this.logger.error({ door: 'http', conn: conn.id, client: conn.client.address, err: messageOf(err) }, 'forwarding failed');
      sendError(res, 502, 'proxy error', { close: true });
    });
  }

  private async forward(req: IncomingMessage, res: ServerResponse, conn: Conn): Promise<void> {
    const id = `${conn.id}.${++conn.requests}`;
    const base = { door: 'http' as const, id, client: conn.client };
    const method = req.method ?? '';
    const target = req.url ?? '';
    const close = hasBody(req);
    if (!FORWARD_METHODS.has(method)) {
      sendError(res, 405, `method ${method} not supported`, { allow: ALLOW_HEADER, close });
      return this.report(base, 'command-not-supported', `method ${method}`, 405);
    }
    const parsed = parseAbsoluteTarget(target);
    if (!parsed) {
      const detail = target.startsWith('/') ? 'origin-form request on a proxy port (absolute URI required)' : 'request target is not an http:// absolute URI';
      sendError(res, 400, detail, { close: true });
      return this.report(base, 'protocol-error', detail, 400);
    }
    this.inFlight++;
    try {
      const auth = await this.checkAuth(req, conn);
      const treq: TunnelRequest = { ...base, mode: 'forward', destination: parsed.destination };
      if (auth.user !== undefined) treq.user = auth.user;
      if (!auth.ok) {
        sendError(res, 407, 'proxy authentication required', { realm: this.opts.realm, close });
        return this.report(treq, 'auth-failed', auth.user === undefined ? 'no or malformed credentials' : 'bad user name or password', 407);
      }
      const refused = this.destinationAllowed(treq);
      if (refused) {
        sendError(res, HTTP_STATUS[refused], 'destination not allowed', { close });
        return this.report(treq, refused, 'destination refused by rules', HTTP_STATUS[refused]);
      }
      const freq = { ...treq, method, path: parsed.path };
      if (this.hooks.onForward?.(freq) === false) {
        sendError(res, 403, 'request refused by policy', { close });
        return this.report(treq, 'not-allowed', 'refused by policy', 403);
      }
      const inspector = this.inspectorFor(freq, req);
      let upstream: net.Socket;
      try {
        upstream = await this.dial(treq);
      } catch (err) {
        const reason = reasonOfDialError(err);
        const status = HTTP_STATUS[reason];
        sendError(res, status, reason === 'not-allowed' ? 'destination not allowed' : `cannot reach ${parsed.hostHeader}`, { close });
        return this.report(treq, reason, messageOf(err), status);
      }
      if (res.destroyed || req.socket.destroyed) {
        upstream.destroy();
        return;
      }
      try {
        this.startForward(req, res, upstream, treq, method, parsed.path, parsed.hostHeader, inspector);
      } catch (err) {
        upstream.destroy();
        throw err;
      }
    } finally {
      this.inFlight--;
    }
  }

  /** src/'s body inspector for this exchange, if it wants one; a throwing hook means none. */
  private inspectorFor(freq: ForwardedRequest, req: IncomingMessage): ForwardBodyInspector | undefined {
    if (this.hooks.inspectForward === undefined) return undefined;
    try {
      return this.hooks.inspectForward(freq, req.headers);
    } catch (err) {
      this.logger.error({ door: 'http', conn: freq.id, err: messageOf(err) }, 'inspectForward hook threw');
      return undefined;
    }
  }

  private startForward(
    req: IncomingMessage,
    res: ServerResponse,
    upstream: net.Socket,
    treq: TunnelRequest,
    method: string,
    path: string,
    hostHeader: string,
    inspector: ForwardBodyInspector | undefined,
  ): void {
    forwardRequest(req, res, upstream, {
      method,
      path,
      hostHeader,
      upstreamTimeoutMs: this.upstreamTimeoutMs,
      ...(inspector !== undefined ? { inspector } : {}),
      onFailure: (status, detail) => this.report(treq, status === 504 ? 'ttl-expired' : status === 413 ? 'protocol-error' : 'general-failure', detail, status),
    });
  }

  // ---- CONNECT ---------------------------------------------------------------

  private onConnect(req: IncomingMessage, socket: net.Socket, head: Buffer): void {
    socket.on('error', onConnectSocketError);
    this.connect(req, socket, head).catch((err: unknown) => {
      this.logger.error({ door: 'http', conn: this.conns.get(socket)?.id, err: messageOf(err) }, 'CONNECT handling failed');
      if (!socket.destroyed) endWith(socket, rawError(502, 'proxy error'));
    });
  }

  private refuseConnect(socket: net.Socket, req: PartialTunnelRequest, kind: RefusedKind, status: number, detail: string, body: string, realm?: string): void {
    endWith(socket, rawError(status, body, realm));
    this.report(req, kind, detail, status);
  }

  private async connect(req: IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const conn = this.connOf(socket);
    const base = { door: 'http' as const, id: conn.id, client: conn.client };
    const destination = parseAuthority(req.url ?? '');
    if (!destination) return this.refuseConnect(socket, base, 'protocol-error', 400, 'bad CONNECT target', 'CONNECT target must be host:port');
    this.inFlight++;
    try {
      const auth = await this.checkAuth(req, conn);
      const treq: TunnelRequest = { ...base, mode: 'connect', destination };
      if (auth.user !== undefined) treq.user = auth.user;
      if (!auth.ok) {
        const detail = auth.user === undefined ? 'no or malformed credentials' : 'bad user name or password';
        return this.refuseConnect(socket, treq, 'auth-failed', 407, detail, 'proxy authentication required', this.opts.realm);
      }
      const refused = this.destinationAllowed(treq);
      if (refused) return this.refuseConnect(socket, treq, refused, HTTP_STATUS[refused], 'destination refused by rules', 'destination not allowed');
      let upstream: net.Socket;
      try {
        upstream = await this.dial(treq);
      } catch (err) {
        const reason = reasonOfDialError(err);
        const body = reason === 'not-allowed' ? 'destination not allowed' : `cannot reach ${destination.host}:${destination.port}`;
        return this.refuseConnect(socket, treq, reason, HTTP_STATUS[reason], messageOf(err), body);
      }
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      socket.write(CONNECTION_ESTABLISHED);
      // The tunnel's idle policy is src/'s from here on.
      socket.setTimeout(0);
      socket.removeListener('error', onConnectSocketError);
      try {
        this.hooks.onTunnel(treq, socket, upstream, head);
      } catch (err) {
        this.logger.error({ conn: treq.id, client: conn.client.address, user: treq.user, err: messageOf(err) }, 'onTunnel hook threw');
        socket.destroy();
        upstream.destroy();
      }
    } finally {
      this.inFlight--;
    }
  }

  // ---- parse errors ----------------------------------------------------------

  private onClientError(err: Error & { code?: string }, socket: net.Socket): void {
    const conn = this.conns.get(socket);
    const base = { door: 'http' as const, id: conn?.id, client: conn?.client };
    if (err.code === 'ECONNRESET' || !socket.writable || (conn !== undefined && conn.active > 0)) {
      socket.destroy();
      return;
    }
    let status = 400;
    let kind: RefusedKind = 'protocol-error';
    if (err.code === 'HPE_HEADER_OVERFLOW') status = 431;
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      kind = 'timeout';
    }
    endWith(socket, rawError(status, status === 408 ? 'request head not received in time' : 'malformed request'));
    this.report(base, kind, `${err.code ?? 'parse error'}: ${err.message}`, status);
  }

  private report(req: PartialTunnelRequest, kind: RefusedKind, detail: string, status: number): void {
    const d = req.destination;
    const fields = { door: 'http', conn: req.id, client: req.client?.address, user: req.user, dest: d ? `${d.host}:${d.port}` : undefined, reason: kind, status, detail };
    reportRefusal(this.hooks, this.logger, req, kind, detail, fields, 'http proxy refused');
  }
}

export function createHttpProxyDoor(opts: HttpProxyDoorOptions): Door {
  return new HttpProxyDoor(opts);
}
