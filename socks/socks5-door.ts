// SOCKS5 door (RFC 1928 CONNECT, RFC 1929 user/password).
//
// Why the handshake is our own state machine and not socksv5's server:
// socksv5 0.0.6 answers refusals with truncated 2-byte replies (deny, BIND,
// UDP ASSOCIATE, upstream errors), formats IPv6 wrongly, resumes the client
// socket on nextTick after accept(true) (bytes lost unless piped in the same
// tick), gives the auth callback no session, and its UserPassword handler
// keeps user/pass in one closure shared by every connection of the server,
// so two interleaved handshakes can swap credentials. Wrapping all of that
// would mean replacing its server, parser and auth handler, i.e. everything.
// The ~200 lines here parse the three messages (socks5-wire.ts) over
// buffered chunks; socksv5 stays a dependency as an independent client
// implementation in the tests (types/socksv5.d.ts).
import net from 'node:net';
import { listenOn } from './listen';
import type { Door, DoorLogger, DoorHooks, PartialTunnelRequest, RefusedKind, Socks5DoorOptions, TunnelRequest } from './types';
import { endWith } from './close';
import { messageOf, reasonOfDialError, reportRefusal } from './refusal';
import {
  AUTH_FAILED,
  AUTH_OK,
  MAX_MESSAGE_BYTES,
  METHOD_NONE,
  METHOD_REPLY_NO_ACCEPTABLE,
  METHOD_REPLY_NONE,
  METHOD_REPLY_USERPASS,
  METHOD_USERPASS,
  parseGreeting,
  parseRequest,
  parseUserPass,
  refusalReply,
  successReply,
} from './socks5-wire';

// Handshake states, in order.
const S_GREETING = 0;
const S_AUTH = 1;
const S_AUTH_WAIT = 2;
const S_REQUEST = 3;
const S_DIAL = 4;
const S_DONE = 5;


const kSession = Symbol('imgate.socks5.session');
type SessionSocket = net.Socket & { [kSession]?: Session };

/** Per-connection handshake state. Listeners are shared functions that find it via the socket. */
class Session {
  state = S_GREETING;
  /** Unparsed bytes of an incomplete message (< MAX_MESSAGE_BYTES). */
  pending: Buffer | null = null;
  user: string | undefined = undefined;
  req: TunnelRequest | undefined = undefined;
  head: Buffer | null = null;
  timer: NodeJS.Timeout | null = null;
  closed = false;

  constructor(
    readonly door: Socks5Door,
    readonly socket: SessionSocket,
    readonly id: string,
    readonly client: { address: string; port: number },
  ) {}
}

function onData(this: SessionSocket, chunk: Buffer): void {
  const s = this[kSession];
  if (s) s.door.feed(s, chunk);
}

function onEnd(this: SessionSocket): void {
  const s = this[kSession];
  if (s) s.door.refuse(s, 'protocol-error', 'client closed during handshake', null);
}

function onError(this: SessionSocket, err: Error): void {
  const s = this[kSession];
  if (s) s.door.logger.debug({ conn: s.id, client: s.client.address, err: err.message }, 'socks5 client error in handshake');
  this.destroy();
}

function onClose(this: SessionSocket): void {
  const s = this[kSession];
  if (s) s.door.release(s);
}

function onHandshakeTimeout(s: Session): void {
  s.timer = null;
  s.door.refuse(s, 'timeout', 'handshake not completed in time', null);
}

class Socks5Door implements Door {
  readonly name = 'socks5' as const;
  readonly logger: DoorLogger;
  private readonly hooks: DoorHooks;
  private readonly server: net.Server;
  private readonly sessions = new Set<Session>();
  private seq = 0;

  constructor(private readonly opts: Socks5DoorOptions) {
    this.logger = opts.logger;
    this.hooks = opts.hooks;
    // allowHalfOpen: a tunnel must carry the upstream's answer after the
    // client shuts down its sending side (nc -N, HTTP/1.0 clients).
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  listen(): Promise<{ address: string; port: number }> {
    return listenOn(this.server, this.opts.port, this.opts.host, this.logger, 'socks5');
  }

  close(): Promise<void> {
    // net.Server 'close' waits for every connection, tunnels included, and
    // those belong to src/. The listening handle itself closes at once.
    if (this.server.listening) this.server.close();
    for (const s of this.sessions) s.socket.destroy();
    return Promise.resolve();
  }

  pending(): number {
    return this.sessions.size;
  }

  private accept(raw: net.Socket): void {
    const socket = raw as SessionSocket;
    const id = `s5-${++this.seq}`;
    const client = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    let allowed = false;
    try {
      allowed = this.hooks.allowClient(client.address);
    } catch (err) {
      this.logger.error({ conn: id, client: client.address, err: messageOf(err) }, 'allowClient hook threw');
    }
    if (!allowed) {
      socket.on('error', onError);
      socket.destroy();
      this.report({ door: 'socks5', id, client }, 'client-not-allowed', 'client address not in allowlist');
      return;
    }
    const s = new Session(this, socket, id, client);
    socket[kSession] = s;
    this.sessions.add(s);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    s.timer = setTimeout(onHandshakeTimeout, this.opts.handshakeTimeoutMs, s);
  }

  /** Drive the state machine over newly read bytes. */
  feed(s: Session, chunk: Buffer): void {
    let buf = chunk;
    if (s.pending) {
      buf = Buffer.concat([s.pending, chunk]);
      s.pending = null;
    }
    this.advance(s, buf, 0);
  }

  private advance(s: Session, buf: Buffer, start: number): void {
    let off = start;
    for (;;) {
      if (s.state === S_GREETING) {
        const r = parseGreeting(buf, off);
        if (r.kind === 'need') break;
        if (r.kind === 'bad') return this.refuse(s, 'protocol-error', r.detail, null);
        const want = this.opts.auth === 'userpass' ? METHOD_USERPASS : METHOD_NONE;
        if (!r.methods.includes(want)) {
          return this.refuse(s, 'protocol-error', `no acceptable auth method (offered ${r.methods.toString('hex') || 'none'})`, METHOD_REPLY_NO_ACCEPTABLE);
        }
        s.socket.write(want === METHOD_NONE ? METHOD_REPLY_NONE : METHOD_REPLY_USERPASS);
        s.state = want === METHOD_NONE ? S_REQUEST : S_AUTH;
        off = r.end;
      } else if (s.state === S_AUTH) {
        const r = parseUserPass(buf, off);
        if (r.kind === 'need') break;
        if (r.kind === 'bad') return this.refuse(s, 'protocol-error', r.detail, AUTH_FAILED);
        s.state = S_AUTH_WAIT;
        s.pending = r.end < buf.length ? buf.subarray(r.end) : null;
        s.socket.pause();
        this.checkCredentials(s, r.user, r.password);
        return;
      } else if (s.state === S_REQUEST) {
        const r = parseRequest(buf, off);
        if (r.kind === 'need') break;
        if (r.kind === 'refuse') return this.refuse(s, r.reason, r.detail, refusalReply(r.reason));
        s.socket.pause();
        s.socket.removeListener('data', onData);
        s.head = r.end < buf.length ? buf.subarray(r.end) : Buffer.alloc(0);
        return this.request(s, r.destination);
      } else {
        // S_AUTH_WAIT / S_DIAL read nothing (paused); S_DONE discards.
        return;
      }
    }
    const left = buf.length - off;
    if (left > 0) {
      // Unreachable by construction (every message fits in MAX_MESSAGE_BYTES),
      // kept so a parser change cannot turn this into an unbounded buffer.
      if (left > MAX_MESSAGE_BYTES) return this.refuse(s, 'protocol-error', 'handshake message too long', null);
      s.pending = off === 0 ? buf : buf.subarray(off);
    }
  }

  private checkCredentials(s: Session, user: string, password: string): void {
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.hooks.authenticate(user, password);
    } catch (err) {
      verdict = Promise.reject(err);
    }
    Promise.resolve(verdict).then(
      (ok) => this.credentialsChecked(s, user, ok === true),
      (err: unknown) => {
        this.logger.error({ conn: s.id, client: s.client.address, user, err: messageOf(err) }, 'authenticate hook failed');
        this.credentialsChecked(s, user, false);
      },
    );
  }

  private credentialsChecked(s: Session, user: string, ok: boolean): void {
    if (s.closed) return;
    s.user = user;
    if (!ok) return this.refuse(s, 'auth-failed', 'bad user name or password', AUTH_FAILED);
    s.socket.write(AUTH_OK);
    s.state = S_REQUEST;
    const rest = s.pending;
    s.pending = null;
    if (rest) this.advance(s, rest, 0);
    if (s.state === S_REQUEST) s.socket.resume();
  }

  private request(s: Session, destination: TunnelRequest['destination']): void {
    s.state = S_DIAL;
    if (s.timer) {
      clearTimeout(s.timer);
      s.timer = null;
    }
    const req: TunnelRequest = { id: s.id, door: 'socks5', mode: 'connect', client: s.client, destination };
    if (s.user !== undefined) req.user = s.user;
    s.req = req;
    let allowed = false;
    try {
      allowed = this.hooks.allowDestination(req);
    } catch (err) {
      return this.refuse(s, 'general-failure', `allowDestination hook threw: ${messageOf(err)}`, refusalReply('general-failure'));
    }
    if (!allowed) return this.refuse(s, 'not-allowed', 'destination refused by rules', refusalReply('not-allowed'));
    let dialing: Promise<net.Socket>;
    try {
      dialing = this.hooks.dial(req);
    } catch (err) {
      dialing = Promise.reject(err);
    }
    dialing.then(
      (upstream) => this.dialed(s, upstream),
      (err: unknown) => {
        const reason = reasonOfDialError(err);
        this.refuse(s, reason, messageOf(err), refusalReply(reason));
      },
    );
  }

  private dialed(s: Session, upstream: net.Socket): void {
    if (s.closed || s.socket.destroyed) {
      upstream.destroy();
      return;
    }
    const socket = s.socket;
    socket.write(successReply(upstream.localAddress, upstream.localPort));
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.removeListener('close', onClose);
    socket[kSession] = undefined;
    this.release(s);
    s.state = S_DONE;
    const req = s.req as TunnelRequest;
    const head = s.head ?? Buffer.alloc(0);
    s.head = null;
    try {
      this.hooks.onTunnel(req, socket, upstream, head);
    } catch (err) {
      this.logger.error({ conn: s.id, client: s.client.address, user: s.user, err: messageOf(err) }, 'onTunnel hook threw');
      socket.destroy();
      upstream.destroy();
    }
  }

  /** Log, notify, send `reply` (if any) and close. */
  refuse(s: Session, kind: RefusedKind, detail: string, reply: Buffer | null): void {
    if (s.state === S_DONE) return;
    s.state = S_DONE;
    this.release(s);
    s.socket[kSession] = undefined;
    s.socket.removeListener('close', onClose);
    endWith(s.socket, reply);
    const partial: PartialTunnelRequest = s.req ?? { door: 'socks5', id: s.id, client: s.client };
    if (!s.req && s.user !== undefined) partial.user = s.user;
    this.report(partial, kind, detail);
  }

  release(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    if (s.timer) {
      clearTimeout(s.timer);
      s.timer = null;
    }
    s.pending = null;
    this.sessions.delete(s);
  }

  private report(req: PartialTunnelRequest, kind: RefusedKind, detail: string): void {
    const d = req.destination;
    const fields = { door: 'socks5', conn: req.id, client: req.client?.address, user: req.user, dest: d ? `${d.host}:${d.port}` : undefined, reason: kind, detail };
    reportRefusal(this.hooks, this.logger, req, kind, detail, fields, 'socks5 refused');
  }
}

export function createSocks5Door(opts: Socks5DoorOptions): Door {
  return new Socks5Door(opts);
}
