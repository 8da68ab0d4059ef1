// One redirected-mode listener: connections that DNS or firewall redirection
// sent here, with no proxy handshake. Per connection:
//   READ  -> client bytes go to a HeadSniffer (bounded, with a timeout)
//            until they name the server; fixed-upstream-only protocols
//            (IRC, MSNP, OSCAR, YMSG) skip this and read nothing.
//   ROUTE -> name -> upstreams map (else as is), or the listener's fixed
//            upstream; loop check; then the same DoorHooks as the proxy doors:
//            allowDestination (rules + policy), dial, onTunnel with the bytes
//            read as `head`.
//   DONE  -> handed over, or refused with a logged reason (and, for HTTP and
//            XMPP, an answer the client understands).
import net from 'node:net';
import { listenOn } from '../../socks/listen';
import type { Destination, DoorHooks, DoorLogger, PartialTunnelRequest, TunnelRequest } from '../../socks/types';
import { endWith } from '../../socks/close';
import { messageOf, reasonOfDialError, reportRefusal } from '../../socks/refusal';
import { isOwnAddress, localAddresses, type BoundAddress } from './loop';
import { refusalReply, type RefusalKind } from './replies';
import { tunnelRequest } from './request';
import type { RedirectSettings } from './settings';
import { HeadSniffer, type SniffResult, type SniffedProtocol } from './sniff';
import { parseHostPort } from './upstreams';

export type RedirectProtocol = 'auto' | 'xmpp' | 'irc' | 'msnp' | 'oscar' | 'ymsg' | 'http' | 'tls';

export interface RedirectListenerSpec {
  /** Position in redirect.listeners; names the listener ("redirect-0") and prefixes ids ("rd0-12"). */
  index: number;
  host: string;
  port: number;
  protocol: RedirectProtocol;
  /** "host:port" dialed when the first bytes name no server. */
  upstream?: string;
}

export interface RedirectDeps {
  hooks: DoorHooks;
  logger: DoorLogger;
  /** Read per connection so a reload applies to new connections. */
  settings: () => RedirectSettings;
  /** Every address the gateway listens on (all doors): never dialed. */
  ownAddresses: () => readonly BoundAddress[];
  /** This host's addresses, for listeners bound to 0.0.0.0 / ::. */
  localAddresses?: () => ReadonlySet<string>;
}

const READ = 0;
const ROUTE = 1;
const DONE = 2;

const EMPTY = Buffer.alloc(0);

class Conn {
  state = READ;
  sniffer: HeadSniffer | null = null;
  timer: NodeJS.Timeout | null = null;
  protocol: SniffedProtocol | null = null;
  req: TunnelRequest | null = null;
  target: Destination | null = null;
  closed = false;
  onClose: (() => void) | null = null;
  constructor(
    readonly socket: net.Socket,
    readonly id: string,
    readonly client: { address: string; port: number },
  ) {}
}

function ignoreError(): void {
  // Before the hand-over the connection is ours to discard; the close is logged.
}

export class RedirectListener {
  readonly name: `redirect-${number}`;
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private readonly fixed: Destination | null;
  private readonly readsHead: boolean;
  private seq = 0;

  constructor(
    readonly spec: RedirectListenerSpec,
    private readonly deps: RedirectDeps,
  ) {
    this.name = `redirect-${spec.index}`;
    this.fixed = spec.upstream !== undefined ? parseHostPort(spec.upstream) : null;
    this.readsHead = spec.protocol === 'auto' || spec.protocol === 'xmpp' || spec.protocol === 'http' || spec.protocol === 'tls';
    // allowHalfOpen: as the doors; the relay propagates each direction's end.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.accept(s));
  }

  listen(): Promise<{ address: string; port: number }> {
    return listenOn(this.server, this.spec.port, this.spec.host, this.deps.logger, this.name);
  }

  /** Stops accepting and drops connections not yet handed over (tunnels are the relay's). */
  close(): Promise<void> {
    if (this.server.listening) this.server.close();
    for (const c of this.conns) this.release(c, true);
    return Promise.resolve();
  }

  /** Connections still reading their head or dialing. */
  pending(): number {
    return this.conns.size;
  }

  private accept(socket: net.Socket): void {
    const id = `rd${this.spec.index}-${++this.seq}`;
    const client = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const c = new Conn(socket, id, client);
    socket.on('error', ignoreError);
    let allowed = false;
    try {
      allowed = this.deps.hooks.allowClient(client.address);
    } catch (err) {
      this.deps.logger.error({ door: 'redirect', conn: id, err: messageOf(err) }, 'allowClient hook threw');
    }
    if (!allowed) {
      socket.destroy();
      this.report(c, 'client-not-allowed', 'client address not in allowlist');
      return;
    }
    this.conns.add(c);
    c.onClose = () => {
      c.closed = true;
      if (c.state === READ) this.refuse(c, 'protocol-error', 'client closed before naming a server');
      else this.release(c, false);
    };
    socket.once('close', c.onClose);
    if (!this.readsHead) {
      this.route(c, null);
      return;
    }
    const settings = this.deps.settings();
    const sniffer = new HeadSniffer(this.spec.protocol as 'auto' | 'xmpp' | 'http' | 'tls', settings.maxHeadBytes);
    c.sniffer = sniffer;
    socket.on('data', (chunk: Buffer) => {
      if (c.state !== READ) return;
      const r = sniffer.push(chunk);
      if (r.kind !== 'more') this.stopReading(c, r);
    });
    socket.once('end', () => {
      if (c.state === READ) this.refuse(c, 'protocol-error', 'client closed before naming a server');
    });
    c.timer = setTimeout(() => {
      if (c.state !== READ) return;
      this.stopReading(c, sniffer.finish(`no server name within ${settings.headTimeoutMs} ms`), true);
    }, settings.headTimeoutMs);
  }

  private stopReading(c: Conn, r: SniffResult, timedOut = false): void {
    c.socket.pause();
    c.socket.removeAllListeners('data');
    c.socket.removeAllListeners('end');
    if (c.timer) {
      clearTimeout(c.timer);
      c.timer = null;
    }
    if (r.kind !== 'more' && r.protocol !== null) c.protocol = r.protocol;
    this.route(c, r, timedOut);
  }

  private route(c: Conn, r: SniffResult | null, timedOut = false): void {
    c.state = ROUTE;
    const settings = this.deps.settings();
    const localPort = c.socket.localPort ?? this.spec.port;
    // `asked` is the server the client meant: rules, policy, logs and events
    // speak of it. `target` is where it is reached: the upstreams map works
    // like a hosts file, never a way around the rules on the name.
    let asked: Destination;
    let target: Destination;
    if (r !== null && r.kind === 'name') {
      asked = { host: r.name.host, port: r.name.port ?? localPort, type: r.name.type };
      target = settings.upstreams.resolve(r.name, localPort);
    } else if (this.fixed !== null) {
      asked = this.fixed;
      target = this.fixed;
    } else {
      const why = r !== null && r.kind === 'none' ? r.why : 'no server name';
      return this.refuse(c, timedOut ? 'timeout' : 'protocol-error', `no destination: ${why}`);
    }
    const req = tunnelRequest(c.id, c.client, asked);
    c.req = req;
    c.target = target;
    const own = this.deps.ownAddresses();
    const local = this.deps.localAddresses ?? localAddresses;
    if (isOwnAddress(target.host, target.port, own, local)) {
      return this.refuse(c, 'not-allowed', `loop: ${target.host}:${target.port} is the gateway itself`);
    }
    let allowed = false;
    try {
      allowed = this.deps.hooks.allowDestination(req);
    } catch (err) {
      return this.refuse(c, 'general-failure', `allowDestination hook threw: ${messageOf(err)}`);
    }
    if (!allowed) return this.refuse(c, 'not-allowed', 'destination refused by rules or policy');
    let dialing: Promise<net.Socket>;
    try {
      dialing = this.deps.hooks.dial(target === asked ? req : { ...req, destination: target });
    } catch (err) {
      dialing = Promise.reject(err);
    }
    dialing.then(
      (upstream) => this.dialed(c, req, upstream, own, local),
      (err: unknown) => this.refuse(c, reasonOfDialError(err), messageOf(err)),
    );
  }

  private dialed(c: Conn, req: TunnelRequest, upstream: net.Socket, own: readonly BoundAddress[], local: () => ReadonlySet<string>): void {
    if (c.closed || c.socket.destroyed || c.state === DONE) {
      upstream.destroy();
      this.release(c, true);
      return;
    }
    // A name may have resolved to this host: what the socket reached decides.
    if (isOwnAddress(upstream.remoteAddress ?? '', upstream.remotePort ?? 0, own, local)) {
      upstream.destroy();
      return this.refuse(c, 'not-allowed', `loop: the upstream for ${req.destination.host} is the gateway itself (${upstream.remoteAddress}:${upstream.remotePort})`);
    }
    const head = c.sniffer?.head() ?? EMPTY;
    c.state = DONE;
    this.release(c, false);
    c.socket.removeListener('error', ignoreError);
    if (c.onClose) c.socket.removeListener('close', c.onClose);
    try {
      this.deps.hooks.onTunnel(req, c.socket, upstream, head);
    } catch (err) {
      this.deps.logger.error({ door: 'redirect', conn: c.id, err: messageOf(err) }, 'onTunnel hook threw');
      c.socket.destroy();
      upstream.destroy();
    }
  }

  private refuse(c: Conn, kind: RefusalKind, detail: string): void {
    if (c.state === DONE) return;
    c.state = DONE;
    this.release(c, false);
    const reply = c.closed ? null : refusalReply(c.protocol, kind, detail);
    if (!c.socket.destroyed) endWith(c.socket, reply);
    this.report(c, kind, detail);
  }

  private release(c: Conn, destroy: boolean): void {
    if (c.timer) {
      clearTimeout(c.timer);
      c.timer = null;
    }
    this.conns.delete(c);
    if (destroy) {
      c.state = DONE;
      c.socket.destroy();
    }
  }

  private report(c: Conn, kind: RefusalKind, detail: string): void {
    const d = c.req?.destination;
    const t = c.target !== null && c.target !== d ? c.target : null;
    const fields = { door: 'redirect', listener: this.name, conn: c.id, client: c.client.address, protocol: c.protocol ?? undefined, dest: d ? `${d.host}:${d.port}` : undefined, upstream: t ? `${t.host}:${t.port}` : undefined, reason: kind, detail };
    const req: PartialTunnelRequest = c.req ?? { door: 'redirect', id: c.id, client: c.client };
    reportRefusal(this.deps.hooks, this.deps.logger, req, kind, detail, fields, 'redirect refused');
  }
}
