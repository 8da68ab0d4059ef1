// Types for socksv5@0.0.6 (mscdex), which ships none. Precise for what the
// package really does on Node 20 (see docs in /work/shared/peers.md §9),
// including its quirks, so callers see them in the signatures.
declare module 'socksv5' {
  import type { EventEmitter } from 'node:events';
  import type { Socket, AddressInfo, ListenOptions } from 'node:net';
  import type { Agent as HttpAgentBase, AgentOptions } from 'node:http';

  /** An authentication method: RFC 1928 method number plus both sides' sub-negotiation. */
  export interface AuthHandler {
    /** 0x00 none, 0x02 user/password. */
    readonly METHOD: number;
    /** Server side; `cb(true)` continues, anything else ends the socket. */
    server(stream: Socket, cb: (result: boolean | Error) => void): void;
    /** Client side; `cb(true)` continues. */
    client(stream: Socket, cb: (result: boolean | Error) => void): void;
  }

  export namespace auth {
    function None(): AuthHandler;
    /**
     * Server form: the callback decides. NOTE: the parsed user/password live in
     * one closure per handler object, shared by all connections using it.
     */
    function UserPassword(check: (user: string, password: string, cb: (ok: boolean) => void) => void): AuthHandler;
    /** Client form: the credentials to send (each <= 255 bytes UTF-8, else it throws). */
    function UserPassword(user: string, password: string): AuthHandler;
  }

  /** What the server parsed from a CONNECT request. */
  export interface ConnectionInfo {
    cmd: 'connect';
    srcAddr: string;
    srcPort: number;
    /** IPv4 dotted, domain as sent, IPv6 as unpadded groups (wrong for most addresses). */
    dstAddr: string;
    dstPort: number;
  }

  /**
   * accept(true): intercept; the success reply (BND 0.0.0.0:0) is written and
   * the client socket returned; it resumes on nextTick, so pipe it in the
   * same tick. accept() / accept(false): the server dials dstAddr itself
   * (dns.lookup: DNS leaks) and pipes. Returns undefined when not writable.
   */
  export type Accept = (intercept?: boolean) => Socket | undefined;
  /** Sends the truncated 2-byte reply 05 02 and ends the socket. */
  export type Deny = () => void;
  export type ConnectionListener = (info: ConnectionInfo, accept: Accept, deny: Deny) => void;

  export interface ServerOptions {
    auths?: AuthHandler[];
    debug?: (msg: string) => void;
  }

  export class Server extends EventEmitter {
    constructor(options?: ServerOptions | ConnectionListener, listener?: ConnectionListener);
    maxConnections: number;
    useAuth(auth: AuthHandler): this;
    listen(port?: number, host?: string, callback?: () => void): this;
    listen(options: ListenOptions, callback?: () => void): this;
    address(): AddressInfo | string | null;
    getConnections(cb: (err: Error | null, count: number) => void): void;
    close(cb?: (err?: Error) => void): this;
    ref(): void;
    unref(): void;
    on(event: 'connection', listener: ConnectionListener): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'listening' | 'close', listener: () => void): this;
  }

  export function createServer(options?: ServerOptions | ConnectionListener, listener?: ConnectionListener): Server;

  export interface ClientOptions {
    proxyHost?: string;
    proxyPort?: number;
    /** Resolve domain names locally before sending (default true). */
    localDNS?: boolean;
    /** Fail when local resolution fails (default true). */
    strictLocalDNS?: boolean;
    auths?: AuthHandler[];
  }

  export interface ClientConnectOptions extends ClientOptions {
    host?: string;
    port: number;
    localAddress?: string;
  }

  /**
   * SOCKS5 client (CONNECT only). Use `new Client(opts).connect(opts)`: the
   * proxy port is read only from the constructor's `proxyPort` (number) and
   * the proxy host only from connect()'s `proxyHost`, so pass both. The
   * module-level connect()/createConnection() call net._normalizeConnectArgs,
   * which Node 20 no longer has. `error` codes: EAUTHFAILED, EAUTHNOTSUPPORT;
   * reply failures carry `.code` (e.g. 'ECONNREFUSED') from the REP byte.
   */
  export class Client extends EventEmitter {
    constructor(options?: ClientOptions);
    useAuth(auth: AuthHandler): this;
    connect(options: ClientConnectOptions, cb?: (socket: Socket) => void): this;
    on(event: 'connect', listener: (socket: Socket) => void): this;
    on(event: 'error', listener: (err: Error & { code?: string }) => void): this;
    on(event: 'close', listener: (hadError: boolean) => void): this;
  }

  export interface SocksAgentOptions extends AgentOptions, ClientOptions {}

  export class HttpAgent extends HttpAgentBase {
    constructor(options?: SocksAgentOptions);
  }
  export class HttpsAgent extends HttpAgentBase {
    constructor(options?: SocksAgentOptions);
  }
}
