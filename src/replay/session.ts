// Drives one reassembled connection the way the live relay drives a tunnel:
// probe the first bytes of either side with the modules in registry order,
// then hand both directions to the matching module's session, whose output
// goes to a counting sink instead of sockets. Unknown protocols keep a
// fingerprint of their first bytes.
import type { Verdict } from '../events/types';
import { fingerprint, runProbes, type ProbeOutcome } from '../inspect/probe';
import type { DissectorSession, EventDraft, InspectOptions, ProtocolModule, SessionContext, SessionLogger, SessionOutput, Side } from '../protocols/types';
import type { ReplayConn, ReplayConnSummary, ReplayEvent, ReplayLimits } from './api';
import type { StreamHandler, TcpCloseState, TcpConnection } from './connections';
import { isoTime } from './types';

/** The capture time of the packet being replayed, shared by every session. */
export class ReplayClock {
  sec = 0;
  nsec = 0;
  get iso(): string {
    return isoTime(this.sec, this.nsec);
  }
  get ms(): number {
    return this.sec * 1000 + Math.floor(this.nsec / 1e6);
  }
}

/** Warnings with a cap: beyond it they are only counted. */
export class WarningList {
  readonly list: string[] = [];
  suppressed = 0;
  constructor(private readonly max: number) {}
  add(msg: string): void {
    if (this.list.length < this.max) this.list.push(msg);
    else this.suppressed++;
  }
}

export interface SessionEnv {
  readonly modules: readonly ProtocolModule[];
  readonly decide: (ev: EventDraft, conn: ReplayConn) => Verdict;
  readonly redact: (text: string, v: Verdict) => string;
  readonly options: InspectOptions;
  readonly limits: ReplayLimits;
  readonly clock: ReplayClock;
  readonly warnings: WarningList;
  readonly events: ReplayEvent[];
  readonly done: (s: ReplayConnSummary) => void;
}

const enum Stage {
  Probe,
  Session,
  Unknown,
  Closed,
  Passthrough,
}

interface Held {
  side: Side;
  data: Buffer;
}

const pair = (): { c2s: number; s2c: number } => ({ c2s: 0, s2c: 0 });

export class ReplaySession implements StreamHandler, SessionOutput, SessionContext, SessionLogger {
  private stage = Stage.Probe;
  private module: ProtocolModule | null = null;
  private session: DissectorSession | null = null;
  private readonly heads: Record<Side, Buffer[]> = { c2s: [], s2c: [] };
  private readonly headLen = pair();
  private readonly ended: Record<Side, boolean> = { c2s: false, s2c: false };
  private held: Held[] = [];
  private heldBytes = 0;
  private closeReason: string | null = null;
  private eventCount = 0;
  private readonly bytes = pair();
  private readonly forwarded = pair();
  private readonly injected = pair();
  private readonly gaps = pair();
  private readonly gapBytes = pair();
  /** First 16 bytes of each side; the fingerprint is the one of the side that made the protocol unknown. */
  private readonly fpHead: Record<Side, Buffer> = { c2s: Buffer.alloc(0), s2c: Buffer.alloc(0) };
  private fpSide: Side | null = null;

  constructor(
    private readonly tcp: TcpConnection,
    private readonly env: SessionEnv,
  ) {}

  // --- SessionContext -------------------------------------------------
  get conn(): string {
    return this.tcp.id;
  }
  get destination(): { host: string; port: number } {
    return { host: this.tcp.server.ip, port: this.tcp.server.port };
  }
  get options(): InspectOptions {
    return this.env.options;
  }
  get log(): SessionLogger {
    return this;
  }

  decide(draft: EventDraft): Verdict {
    const clock = this.env.clock;
    const conn: ReplayConn = {
      id: this.tcp.id,
      client: this.tcp.clientText,
      server: this.tcp.serverText,
      clientIp: this.tcp.client.ip,
      serverIp: this.tcp.server.ip,
      serverPort: this.tcp.server.port,
      protocol: this.module?.name ?? 'unknown',
      time: clock.iso,
      timeMs: clock.ms,
    };
    const verdict = this.env.decide(draft, conn);
    this.eventCount++;
    this.env.events.push({ ...draft, conn: conn.id, time: conn.time, client: conn.client, server: conn.server, verdict });
    return verdict;
  }

  redact(text: string, verdict: Verdict): string {
    return this.env.redact(text, verdict);
  }

  // --- SessionLogger: warnings and errors become replay warnings ----------
  debug(): void {}
  info(): void {}
  warn(obj: object, msg?: string): void {
    this.env.warnings.add(`${this.tcp.id}: ${msg ?? 'warning'} ${safeJson(obj)}`);
  }
  error(obj: object, msg?: string): void {
    this.env.warnings.add(`${this.tcp.id}: ${msg ?? 'error'} ${safeJson(obj)}`);
  }

  // --- SessionOutput: a counting sink --------------------------------------
  forward(from: Side, data: Buffer): void {
    this.forwarded[from] += data.length;
  }
  inject(to: Side, data: Buffer): void {
    this.injected[to] += data.length;
  }
  close(reason: string): void {
    if (this.stage === Stage.Closed) return;
    this.stage = Stage.Closed;
    this.closeReason = reason;
    this.env.warnings.add(`${this.tcp.id} ${this.tcp.clientText} -> ${this.tcp.serverText}: ${this.module?.name ?? 'session'} closed the connection: ${reason}`);
  }

  // --- StreamHandler ---------------------------------------------------------
  data(from: Side, bytes: Buffer): void {
    this.bytes[from] += bytes.length;
    if (this.fpHead[from].length < 16) this.fpHead[from] = Buffer.concat([this.fpHead[from], bytes.subarray(0, 16 - this.fpHead[from].length)]);
    switch (this.stage) {
      case Stage.Session:
        this.push(from, bytes);
        return;
      case Stage.Probe:
        this.probeData(from, bytes);
        return;
      default:
        return;
    }
  }

  gap(from: Side, missing: number): void {
    this.gaps[from]++;
    this.gapBytes[from] += missing;
  }

  end(from: Side): void {
    this.ended[from] = true;
    // Once probing decides, start() ends the sides that already ended.
    if (this.stage === Stage.Probe) this.probe();
    else if (this.stage === Stage.Session) this.endSession(from);
  }

  private endSession(from: Side): void {
    try {
      (this.session as DissectorSession).end(from);
    } catch (err) {
      this.close(`dissector threw on end: ${(err as Error).message}`);
    }
    this.afterCall();
  }

  finish(state: TcpCloseState): void {
    if (this.stage === Stage.Probe) this.probe(true);
    const s: ReplayConnSummary = {
      conn: this.tcp.id,
      client: this.tcp.clientText,
      server: this.tcp.serverText,
      protocol: this.module?.name ?? 'unknown',
      orientedBy: this.tcp.orientedBy ?? 'ports',
      bytes: this.bytes,
      forwarded: this.forwarded,
      injected: this.injected,
      gaps: this.gaps,
      gapBytes: this.gapBytes,
      events: this.eventCount,
      tcp: state,
      closed: this.closeReason ?? state,
    };
    if (!this.module) s.fingerprint = fingerprint(this.fpHead[this.fpSide ?? (this.bytes.c2s > 0 ? 'c2s' : 's2c')]);
    this.held = [];
    this.env.done(s);
  }

  // --- probing ---------------------------------------------------------------
  private probeData(from: Side, bytes: Buffer): void {
    // Copy: held bytes outlive the read chunk they came in (a view would pin it).
    const copy = Buffer.from(bytes);
    const room = this.env.limits.probeMaxBytes - this.headLen[from];
    if (room > 0) {
      const part = copy.length <= room ? copy : copy.subarray(0, room);
      this.heads[from].push(part);
      this.headLen[from] += part.length;
    }
    this.held.push({ side: from, data: copy });
    this.heldBytes += bytes.length;
    this.probe();
  }

  /**
   * Runs the probes as the live tunnel does (src/inspect/tunnel.ts): the
   * client's head first, then the server's; the client's 'no' means unknown,
   * the server's 'no' only once the client cannot speak first any more. The
   * hold bound stands in for the live probe timeout. `atEnd`: no more bytes.
   */
  private probe(atEnd = false): void {
    const final = atEnd || this.heldBytes >= this.env.limits.maxProbeHoldBytes;
    const c = this.probeSide('c2s', final);
    if (typeof c === 'object') return this.start(c);
    const s = this.probeSide('s2c', final);
    if (typeof s === 'object') return this.start(s);
    if (c === 'more' || s === 'more') return;
    if (c === 'no') return this.unknown('c2s');
    if (s === 'no' && (final || this.ended.c2s)) return this.unknown('s2c');
    if (atEnd) this.unknown(null);
  }

  private probeSide(side: Side, final: boolean): ProbeOutcome | 'none' {
    if (this.headLen[side] === 0) return 'none';
    const isFinal = final || this.ended[side] || this.headLen[side] >= this.env.limits.probeMaxBytes;
    return runProbes(this.env.modules, side, Buffer.concat(this.heads[side]), isFinal);
  }

  private unknown(side: Side | null): void {
    this.stage = Stage.Unknown;
    this.heads.c2s = [];
    this.heads.s2c = [];
    this.fpSide = side;
    this.held = [];
    this.heldBytes = 0;
  }

  private start(m: ProtocolModule): void {
    this.module = m;
    try {
      this.session = m.create(this, this);
    } catch (err) {
      this.close(`${m.name}: create threw: ${(err as Error).message}`);
      return;
    }
    this.stage = Stage.Session;
    this.heads.c2s = [];
    this.heads.s2c = [];
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const h of held) {
      if (this.stage !== Stage.Session) break;
      this.push(h.side, h.data);
    }
    for (const side of ['c2s', 's2c'] as const) {
      if (this.ended[side] && this.stage === Stage.Session) this.endSession(side);
    }
  }

  private push(from: Side, bytes: Buffer): void {
    try {
      (this.session as DissectorSession).push(from, bytes);
    } catch (err) {
      this.close(`dissector threw: ${(err as Error).message}`);
    }
    this.afterCall();
  }

  private afterCall(): void {
    if (this.stage === Stage.Session && this.session?.passthrough) this.stage = Stage.Passthrough;
  }
}

function safeJson(obj: object): string {
  try {
    return JSON.stringify(obj).slice(0, 500);
  } catch {
    return '';
  }
}
