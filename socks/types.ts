// Public contract of the proxy doors (SOCKS5 and HTTP proxy). The doors do
// the handshakes and access checks; everything after "the tunnel is up" is
// handed to `src/` through DoorHooks.onTunnel. Nothing here knows about IM.
import type { Socket } from 'node:net';

/** 'redirect': connections DNS/firewall redirection sends to src/redirect's listeners. */
export type DoorName = 'socks5' | 'http' | 'redirect';

export interface Destination {
  /** IP literal or domain name, as the client asked (IPv6 without brackets). */
  host: string;
  port: number;
  type: 'ipv4' | 'ipv6' | 'domain';
}

export interface TunnelRequest {
  /** Unique connection id, e.g. "s5-12" / "hp-7"; appears in every log line. */
  id: string;
  door: DoorName;
  /** 'connect': SOCKS5 CONNECT or HTTP CONNECT; 'forward': HTTP absolute-URI request. */
  mode: 'connect' | 'forward';
  client: { address: string; port: number };
  /** Authenticated user name (RFC 1929 or Basic), when auth is on. */
  user?: string;
  destination: Destination;
}

/**
 * Why a tunnel could not be set up. Each maps to a SOCKS5 reply code
 * (RFC 1928 §6) and an HTTP status.
 *   general-failure 0x01/502, not-allowed 0x02/403, network-unreachable 0x03/502,
 *   host-unreachable 0x04/502, connection-refused 0x05/502, ttl-expired 0x06/504,
 *   command-not-supported 0x07/405, address-type-not-supported 0x08/400
 */
export type RefusalReason =
  | 'general-failure'
  | 'not-allowed'
  | 'network-unreachable'
  | 'host-unreachable'
  | 'connection-refused'
  | 'ttl-expired'
  | 'command-not-supported'
  | 'address-type-not-supported';

/** Thrown (rejected) by DoorHooks.dial to choose the reply code. */
export class DialError extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'DialError';
  }
}

export interface DoorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Every reason a door refuses a client: a dial/rule refusal, or a handshake-level one. */
export type RefusedKind = RefusalReason | 'auth-failed' | 'client-not-allowed' | 'protocol-error' | 'timeout';

/** A refused request as far as it got: at least the door, often id, client, user, destination. */
export type PartialTunnelRequest = Partial<TunnelRequest> & { door: DoorName };

export interface DoorHooks {
  /** Client address allowlist (CIDR rules live in src/). False: refused. */
  allowClient(address: string): boolean;
  /** Credential check, called only when the door requires auth. */
  authenticate(user: string, password: string): boolean | Promise<boolean>;
  /** Destination rules. False: SOCKS reply 0x02, HTTP 403. */
  allowDestination(req: TunnelRequest): boolean;
  /** Open the upstream TCP connection. Reject with DialError to pick the code. */
  dial(req: TunnelRequest): Promise<Socket>;
  /**
   * Ownership of both sockets passes to src/. The success reply has been
   * written to the client; `head` holds client bytes already read past the
   * handshake (send them upstream first). Neither socket has been resumed.
   */
  onTunnel(req: TunnelRequest, client: Socket, upstream: Socket, head: Buffer): void;
  /**
   * HTTP door only: an absolute-URI request is about to be forwarded (after
   * auth and allowDestination, before dial). `path` is the origin-form target.
   * Returning false refuses it with HTTP 403 (e.g. a policy rule on the URL).
   */
  onForward?(req: ForwardedRequest): boolean | void;
  /** A refused or failed request, for logs and metrics. */
  onRefused?(req: PartialTunnelRequest, reason: RefusedKind, detail: string): void;
  /**
   * HTTP door only: called for an absolute-URI request that onForward let
   * through, with its header fields. Returning an inspector makes the door
   * hold that exchange's bodies (bounded) and send what the inspector
   * returns; undefined streams the exchange untouched, as before.
   */
  inspectForward?(req: ForwardedRequest, headers: ReadonlyHeaders): ForwardBodyInspector | undefined;
}

/** An absolute-URI request as the HTTP door forwards it; `path` is the origin-form target. */
export type ForwardedRequest = TunnelRequest & { method: string; path: string };

/** Header fields by lower-case name (Node's IncomingHttpHeaders shape). */
export type ReadonlyHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Looks at (and may rewrite) the whole bodies of one forwarded exchange.
 * The door enforces maxBodyBytes before it buffers a byte past it (request:
 * 413 to the client; response: 502), and re-frames a held body with its own
 * Content-Length. Methods must not throw (a throw fails the exchange: 502).
 */
export interface ForwardBodyInspector {
  readonly maxBodyBytes: number;
  /** Hold the request body for request() (false: it streams untouched). */
  readonly holdRequest: boolean;
  /** The complete request body; returns what goes upstream (`body` itself when unchanged). */
  request(body: Buffer): Buffer;
  /** The response head: hold its body for response()? (bodiless responses are never held) */
  holdResponse(status: number, headers: ReadonlyHeaders): boolean;
  /** The complete response body; returns what goes to the client. */
  response(body: Buffer): Buffer;
}

export interface Socks5DoorOptions {
  host: string;
  port: number;
  /** 'none': no auth (method 0x00); 'userpass': RFC 1929 only (method 0x02). */
  auth: 'none' | 'userpass';
  /** Greeting + auth + request must complete within this (ms). */
  handshakeTimeoutMs: number;
  hooks: DoorHooks;
  logger: DoorLogger;
}

export interface HttpProxyDoorOptions {
  host: string;
  port: number;
  /** 'basic': Proxy-Authorization Basic required, else 407. */
  auth: 'none' | 'basic';
  realm: string;
  /** Request head must arrive within this (ms). */
  headerTimeoutMs: number;
  /** Max request head size (bytes). */
  maxHeaderBytes: number;
  /** Idle keep-alive timeout for forward-proxy client connections (ms). */
  keepAliveTimeoutMs: number;
  /**
   * Forwarded requests: max idle time on the upstream connection (waiting for
   * the origin's response head or body bytes) before 504 / abort. Default 60000.
   */
  upstreamTimeoutMs?: number;
  hooks: DoorHooks;
  logger: DoorLogger;
}

/** Both doors implement this. */
export interface Door {
  readonly name: DoorName;
  listen(): Promise<{ address: string; port: number }>;
  /** Stop accepting; resolve when the listener is closed (tunnels are src/'s). */
  close(): Promise<void>;
  /** Connections still in handshake. */
  pending(): number;
}
