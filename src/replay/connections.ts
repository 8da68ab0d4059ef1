// The TCP connections of a capture: finds the connection of each segment
// (either direction), orients it (client = SYN sender; without a SYN, the
// first endpoint that sends payload; for a connection that never carries
// payload, the well-known port), feeds both half-streams and keeps the
// number of live connections bounded (least recently used is evicted).
import type { Side } from '../protocols/types';
import { endpointText, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from './decode';
import { HalfStream, type HalfStreamLimits } from './half-stream';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export type TcpCloseState = 'fin' | 'rst' | 'evicted' | 'open';

/** What consumes one connection's reassembled bytes. */
export interface StreamHandler {
  data(from: Side, bytes: Buffer): void;
  gap(from: Side, missing: number): void;
  end(from: Side): void;
  /** The connection is done (closed, evicted, or the capture ended). */
  finish(state: TcpCloseState): void;
}

export interface ConnectionLimits extends HalfStreamLimits {
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxOooBytes: 256 * 1024,
  maxOooSegments: 1024,
  maxConnections: 4096,
};

/** Ports that say "server" when a connection shows neither SYN nor payload. */
const SERVER_PORTS = new Set([80, 443, 1863, 5050, 5190, 5222, 5223, 5269, 6666, 6667, 6668, 6669, 6697, 7000, 8000, 8080]);

export class TcpConnection {
  /** Endpoint 0 sent the first packet seen. */
  readonly ends: [Endpoint, Endpoint];
  /** Index (0/1) of the client endpoint, once known. */
  clientIdx: 0 | 1 | null = null;
  orientedBy: 'syn' | 'first-talker' | 'ports' | null = null;
  readonly halves: [HalfStream, HalfStream];
  state: TcpCloseState = 'open';
  finished = false;

  constructor(
    readonly id: string,
    a: Endpoint,
    b: Endpoint,
    readonly handler: StreamHandler,
    limits: HalfStreamLimits,
  ) {
    this.ends = [a, b];
    this.halves = [this.half(0, limits), this.half(1, limits)];
  }

  private half(idx: 0 | 1, limits: HalfStreamLimits): HalfStream {
    return new HalfStream(
      {
        data: (bytes) => this.handler.data(this.sideOf(idx), bytes),
        gap: (n) => this.handler.gap(this.sideOf(idx), n),
        end: () => this.handler.end(this.sideOf(idx)),
      },
      limits,
    );
  }

  sideOf(idx: 0 | 1): Side {
    return idx === this.clientIdx ? 'c2s' : 's2c';
  }

  get client(): Endpoint {
    return this.ends[this.clientIdx ?? 0];
  }

  get server(): Endpoint {
    return this.ends[this.clientIdx === null ? 1 : 1 - this.clientIdx];
  }

  get clientText(): string {
    return endpointText(this.client.ip, this.client.port);
  }

  get serverText(): string {
    return endpointText(this.server.ip, this.server.port);
  }

  get closed(): boolean {
    return this.state !== 'open' || (this.halves[0].ended && this.halves[1].ended);
  }

  /** Orientation for a connection that never showed a SYN or payload. */
  orientByPorts(): void {
    if (this.clientIdx !== null) return;
    const [a, b] = this.ends;
    const aServer = SERVER_PORTS.has(a.port) || (a.port < 1024 && b.port >= 1024);
    const bServer = SERVER_PORTS.has(b.port) || (b.port < 1024 && a.port >= 1024);
    this.clientIdx = aServer && !bServer ? 1 : bServer && !aServer ? 0 : a.port >= b.port ? 0 : 1;
    this.orientedBy = 'ports';
  }

  /** Ends both directions and reports the connection done. */
  finish(state: TcpCloseState): void {
    if (this.finished) return;
    this.finished = true;
    if (this.state === 'open' || state === 'evicted') this.state = state;
    this.orientByPorts();
    const first = this.clientIdx ?? 0;
    this.halves[first].flush();
    this.halves[(1 - first) as 0 | 1].flush();
    this.handler.finish(this.state);
  }
}

export interface TableEvents {
  open(conn: TcpConnection): StreamHandler;
  warn(message: string): void;
}

export class ConnectionTable {
  private readonly live = new Map<string, TcpConnection>();
  private count = 0;
  evicted = 0;
  /** Most out-of-order bytes one direction held at once, and most live connections. */
  peakHeld = 0;
  peakLive = 0;

  constructor(
    private readonly events: TableEvents,
    private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
  ) {}

  get size(): number {
    return this.live.size;
  }

  /** Number of connections seen so far (the next id is tcp-<count>). */
  get seen(): number {
    return this.count;
  }

  segment(s: TcpSegment): void {
    const fwd = `${s.src}|${s.srcPort}|${s.dst}|${s.dstPort}`;
    const rev = `${s.dst}|${s.dstPort}|${s.src}|${s.srcPort}`;
    let key = fwd;
    let conn = this.live.get(fwd);
    if (!conn) {
      conn = this.live.get(rev);
      if (conn) key = rev;
    }
    const isSyn = (s.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (conn && conn.closed && isSyn) {
      // Port reuse: a fresh SYN after the old connection closed.
      conn.finish(conn.state);
      this.live.delete(key);
      conn = undefined;
    }
    if (!conn) {
      if ((s.flags & TCP_RST) !== 0 && s.payload.length === 0 && (s.flags & TCP_SYN) === 0) {
        // A bare RST for a connection we never saw: nothing to replay.
        return;
      }
      key = fwd;
      conn = this.create(key, s);
    } else {
      // Most recently used goes last in the Map's order.
      this.live.delete(key);
      this.live.set(key, conn);
    }
    this.feed(conn, s);
  }

  /** End of capture: every remaining connection is flushed and reported. */
  finishAll(): void {
    for (const conn of this.live.values()) conn.finish(conn.closed ? conn.state : 'open');
    this.live.clear();
  }

  private create(key: string, s: TcpSegment): TcpConnection {
    while (this.live.size >= this.limits.maxConnections) {
      const [oldKey, old] = this.live.entries().next().value as [string, TcpConnection];
      this.live.delete(oldKey);
      if (!old.closed) {
        this.evicted++;
        if (this.evicted <= 20) {
          this.events.warn(`${old.id} ${old.clientText} -> ${old.serverText}: evicted (more than ${this.limits.maxConnections} live connections)`);
        }
        old.finish('evicted');
      } else {
        old.finish(old.state);
      }
    }
    const id = `tcp-${this.count++}`;
    let handler: StreamHandler | null = null;
    const conn = new TcpConnection(
      id,
      { ip: s.src, port: s.srcPort },
      { ip: s.dst, port: s.dstPort },
      {
        data: (f, b) => handler?.data(f, b),
        gap: (f, n) => handler?.gap(f, n),
        end: (f) => handler?.end(f),
        finish: (st) => handler?.finish(st),
      },
      this.limits,
    );
    handler = this.events.open(conn);
    this.live.set(key, conn);
    if (this.live.size > this.peakLive) this.peakLive = this.live.size;
    return conn;
  }

  private feed(conn: TcpConnection, s: TcpSegment): void {
    const idx: 0 | 1 = conn.ends[0].ip === s.src && conn.ends[0].port === s.srcPort ? 0 : 1;
    const other: 0 | 1 = idx === 0 ? 1 : 0;
    const f = s.flags;
    if (conn.clientIdx === null) {
      if (f & TCP_SYN) {
        conn.clientIdx = f & TCP_ACK ? other : idx;
        conn.orientedBy = 'syn';
      } else if (s.payload.length > 0) {
        conn.clientIdx = idx;
        conn.orientedBy = 'first-talker';
      }
    }
    if (conn.clientIdx === null && (f & (TCP_FIN | TCP_RST)) !== 0) conn.orientByPorts();
    const half = conn.halves[idx];
    if (f & TCP_RST) {
      conn.state = 'rst';
      conn.halves[idx].flush();
      conn.halves[other].flush();
      return;
    }
    if (f & TCP_SYN) half.syn(s.seq);
    const seq = f & TCP_SYN ? (s.seq + 1) >>> 0 : s.seq;
    if (conn.clientIdx === null) {
      // No payload, SYN or FIN yet: only learn the sequence number.
      if (half.next === null) half.next = seq;
    } else {
      half.segment(seq, s.payload, (f & TCP_FIN) !== 0);
    }
    if (f & TCP_ACK) conn.halves[other].acked(s.ack);
    if (half.heldByteCount > this.peakHeld) this.peakHeld = half.heldByteCount;
    if (conn.state === 'open' && conn.halves[0].ended && conn.halves[1].ended) conn.state = 'fin';
  }
}
