// One inspected tunnel: probe the first bytes, then drive a dissector session
// (with backpressure) or fall back to a bare pipe. States:
//   PROBE   -> bytes of both sides are held (bounded by probeMaxBytes per side,
//              the socket is paused at the bound) until a probe decides.
//   INSPECT -> every chunk goes through session.push; the session writes via
//              forward/inject (this object is its SessionOutput).
//   PIPE    -> listeners removed, socket.pipe both ways (a direction that
//              carries bulk then reads into one reused buffer:
//              relay/passthrough.ts): no JS of ours per chunk.
//   CLOSED  -> torn down (fail() logs the reason with the tunnel close).
// Whatever the state, once both sockets closed the session (if one was made,
// even one since switched to the pipe) is disposed, exactly once: its held
// units' timers and open file sinks do not outlive the tunnel.
// Sides index arrays as 0 = c2s (read from the client), 1 = s2c (from upstream).
import type { Socket } from 'node:net';
import type { Verdict } from '../events/types';
import type { DissectorSession, EventDraft, ProtocolModule, SessionOutput, Side } from '../protocols/types';
import type { TunnelHandle } from '../relay/relay';
import { TunnelSessionContext, eventFromDraft, recordEvent, type ContextDeps, type TunnelFacts } from './context';
import { fingerprint, runProbes, type ProbeOutcome } from './probe';
import type { InspectSettings } from './settings';
import { passthrough } from '../relay/passthrough';

const PROBE = 0;
const INSPECT = 1;
const PIPE = 2;
const CLOSED = 3;

// Why a socket is paused; it resumes when no reason is left.
const HELD_BY_PROBE = 1;
const WAIT_UPSTREAM_DRAIN = 2;
const WAIT_CLIENT_DRAIN = 4;

const C2S = 0;
const S2C = 1;
const sideIndex = (s: Side): number => (s === 'c2s' ? C2S : S2C);
const SIDES: readonly Side[] = ['c2s', 's2c'];

export interface InspectDeps extends ContextDeps {
  readonly modules: readonly ProtocolModule[];
}

interface HeldChunk {
  side: number;
  chunk: Buffer;
}

export class InspectedTunnel implements SessionOutput {
  private state = PROBE;
  private held: HeldChunk[] | null = [];
  private readonly heldBytes = [0, 0];
  private readonly ended = [false, false];
  private readonly pauses = [0, 0];
  private timer: NodeJS.Timeout | null = null;
  private timedOut = false;
  private session: DissectorSession | null = null;
  /** The session until it is disposed; kept past toPipe()/close(), which drop `session`. */
  private disposable: DissectorSession | null = null;
  private socketsClosed = 0;
  private readonly client: Socket;
  private readonly upstream: Socket;
  private readonly onClientData = (chunk: Buffer): void => this.onData(C2S, chunk);
  private readonly onUpstreamData = (chunk: Buffer): void => this.onData(S2C, chunk);
  private readonly onClientEnd = (): void => this.onEnd(C2S);
  private readonly onUpstreamEnd = (): void => this.onEnd(S2C);
  private upstreamDrain: (() => void) | null = null;
  private clientDrain: (() => void) | null = null;

  constructor(
    private readonly deps: InspectDeps,
    private readonly t: TunnelHandle,
    private readonly facts: TunnelFacts,
    private readonly settings: InspectSettings,
  ) {
    this.client = t.client;
    this.upstream = t.upstream;
  }

  start(): void {
    this.client.on('data', this.onClientData);
    this.upstream.on('data', this.onUpstreamData);
    this.client.on('end', this.onClientEnd);
    this.upstream.on('end', this.onUpstreamEnd);
    for (const s of [this.client, this.upstream]) {
      if (s.closed) process.nextTick(this.onSocketClose);
      else s.once('close', this.onSocketClose);
    }
    this.armTimer();
    // The HTTP door hands over what the client sent after CONNECT: it is the
    // client's first bytes.
    if (this.t.head.length > 0) this.onData(C2S, this.t.head);
    // A door may have paused the client explicitly; 'data' listeners alone
    // would not restart it.
    if (this.state === PROBE || this.state === INSPECT) {
      if (this.pauses[C2S] === 0) this.client.resume();
      if (this.pauses[S2C] === 0) this.upstream.resume();
    }
  }

  // ---- SessionOutput -------------------------------------------------------

  forward(from: Side, data: Buffer): void {
    if (this.state === CLOSED || data.length === 0) return;
    const src = sideIndex(from);
    this.write(src === C2S ? this.upstream : this.client, data, src);
  }

  inject(to: Side, data: Buffer): void {
    if (this.state === CLOSED || data.length === 0) return;
    // A gateway-made reply answers what `to` sent: if that end does not read
    // its replies, stop reading from it.
    const end = sideIndex(to);
    this.write(end === C2S ? this.client : this.upstream, data, end);
  }

  close(reason: string): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    this.clearTimer();
    this.session = null;
    this.held = null;
    this.t.fail(reason);
  }

  // ---- socket events -------------------------------------------------------

  private onData(side: number, chunk: Buffer): void {
    if (this.state === INSPECT) {
      if (this.push(side, chunk)) this.toPipe();
      return;
    }
    if (this.state !== PROBE || this.held === null) return;
    this.held.push({ side, chunk });
    this.heldBytes[side] += chunk.length;
    if (this.timer === null && !this.timedOut) this.armTimer();
    if (this.heldBytes[side] >= this.settings.probeMaxBytes) this.pause(side, HELD_BY_PROBE);
    this.classify();
  }

  private onEnd(side: number): void {
    this.ended[side] = true;
    if (this.state === PROBE) {
      this.classify();
    } else if (this.state === INSPECT && this.session !== null) {
      try {
        this.session.end(SIDES[side] as Side);
      } catch (err) {
        this.close(`dissector failed at end of stream: ${(err as Error).message}`);
        return;
      }
      if (this.state !== INSPECT) return;
      if (this.session.passthrough) this.toPipe();
      else this.endOther(side);
    }
  }

  private readonly onSocketClose = (): void => {
    if (++this.socketsClosed === 2) this.dispose();
  };

  private dispose(): void {
    const s = this.disposable;
    this.disposable = null;
    if (s === null || s.dispose === undefined) return;
    try {
      s.dispose();
    } catch (err) {
      this.deps.logger.warn({ conn: this.facts.conn, err: (err as Error).message }, 'dissector failed to dispose');
    }
  }

  // ---- probing -------------------------------------------------------------

  private armTimer(): void {
    this.timer = setTimeout(this.onProbeTimeout, this.settings.probeTimeoutMs);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onProbeTimeout = (): void => {
    this.timer = null;
    if (this.state !== PROBE || this.client.destroyed || this.upstream.destroyed) return;
    // Nobody spoke yet: the wait starts again with the first bytes.
    if (this.heldBytes[C2S] === 0 && this.heldBytes[S2C] === 0) return;
    this.timedOut = true;
    this.classify();
  };

  /** One side's head, at most probeMaxBytes; copies only when it spans chunks. */
  private headOf(side: number): Buffer {
    const max = this.settings.probeMaxBytes;
    let first: Buffer | null = null;
    let parts: Buffer[] | null = null;
    for (const h of this.held as HeldChunk[]) {
      if (h.side !== side) continue;
      if (first === null) first = h.chunk;
      else (parts ??= [first]).push(h.chunk);
    }
    if (first === null) return Buffer.alloc(0);
    if (parts === null) return first.length > max ? first.subarray(0, max) : first;
    return Buffer.concat(parts, Math.min(max, this.heldBytes[side] as number));
  }

  private probeSide(side: number): ProbeOutcome | 'none' {
    if (this.heldBytes[side] === 0) return 'none';
    const final = this.timedOut || this.ended[side] === true || (this.heldBytes[side] as number) >= this.settings.probeMaxBytes;
    return runProbes(this.deps.modules, SIDES[side] as Side, this.headOf(side), final);
  }

  private classify(): void {
    const c = this.probeSide(C2S);
    if (typeof c === 'object') return this.startSession(c);
    const s = this.probeSide(S2C);
    if (typeof s === 'object') return this.startSession(s);
    if (c === 'more' || s === 'more') return;
    // The client spoke and nothing knows its bytes; or the server spoke, the
    // client stayed silent until the timeout (or hung up), and nothing knows
    // the server's bytes either.
    if (c === 'no' || (s === 'no' && (this.timedOut || this.ended[C2S]))) this.unknown(c === 'no' ? C2S : S2C);
  }

  private startSession(module: ProtocolModule): void {
    this.clearTimer();
    this.deps.metrics.tunnelsByProtocol.inc({ protocol: module.name });
    const held = this.held as HeldChunk[];
    this.held = null;
    this.state = INSPECT;
    try {
      const ctx = new TunnelSessionContext(this.deps, this.facts, this.settings, module.name);
      this.session = this.disposable = module.create(ctx, this);
    } catch (err) {
      this.close(`${module.name} dissector failed to start: ${(err as Error).message}`);
      return;
    }
    // Both sockets went before the first bytes were classified: nothing will close it later.
    if (this.socketsClosed === 2) this.dispose();
    for (let i = 0; i < held.length; i++) {
      const h = held[i] as HeldChunk;
      const letGo = this.push(h.side, h.chunk);
      if (this.state !== INSPECT) return;
      if (letGo) {
        // The session let go mid-replay: the rest goes out untouched, then
        // the pipe takes over (and passes on ends already seen).
        for (let j = i + 1; j < held.length; j++) this.writeRaw(held[j] as HeldChunk);
        this.toPipe();
        return;
      }
    }
    this.unpause(C2S, HELD_BY_PROBE);
    this.unpause(S2C, HELD_BY_PROBE);
    for (const side of [C2S, S2C]) {
      if (this.ended[side] && this.state === INSPECT) this.onEnd(side);
    }
  }

  private unknown(side: number): void {
    this.clearTimer();
    this.deps.metrics.tunnelsByProtocol.inc({ protocol: 'unknown' });
    const head = this.headOf(side);
    const draft: EventDraft = {
      kind: 'unknown',
      side: SIDES[side] as Side,
      protocol: 'unknown',
      detail: { fingerprint: fingerprint(head), length: this.heldBytes[side] as number },
    };
    const ev = eventFromDraft(this.facts, draft);
    const verdict: Verdict = this.deps.policy.evaluate(ev);
    ev.verdict = verdict;
    recordEvent(this.deps, ev, verdict, draft.detail, this.settings.logTextMax);
    if (verdict.action === 'block') {
      this.close(`unknown protocol blocked by policy (rule ${verdict.rule}, fingerprint ${draft.detail?.fingerprint})`);
      return;
    }
    const held = this.held as HeldChunk[];
    this.held = null;
    for (const h of held) this.writeRaw(h);
    this.toPipe();
  }

  // ---- inspecting ----------------------------------------------------------

  /** Feeds the session; true when it needs no more inspection (the caller switches to the pipe). */
  private push(side: number, chunk: Buffer): boolean {
    const session = this.session as DissectorSession;
    try {
      session.push(SIDES[side] as Side, chunk);
    } catch (err) {
      // The contract says push never throws; if one does, the stream's state is unknown.
      this.close(`dissector failed: ${(err as Error).message}`);
      return false;
    }
    return this.state === INSPECT && session.passthrough;
  }

  private toPipe(): void {
    if (this.state === CLOSED) return;
    this.state = PIPE;
    this.clearTimer();
    this.session = null;
    const { client, upstream } = this;
    client.removeListener('data', this.onClientData);
    upstream.removeListener('data', this.onUpstreamData);
    client.removeListener('end', this.onClientEnd);
    upstream.removeListener('end', this.onUpstreamEnd);
    if (this.upstreamDrain) upstream.removeListener('drain', this.upstreamDrain);
    if (this.clientDrain) client.removeListener('drain', this.clientDrain);
    this.upstreamDrain = this.clientDrain = null;
    this.pauses[C2S] = this.pauses[S2C] = 0;
    // pipe() resumes the source itself (or waits for 'drain' when the
    // destination is full). A side that already sent FIN has emitted 'end'
    // and pipe would never see it: end its destination here.
    if (this.ended[C2S]) this.endOther(C2S);
    else passthrough(client, upstream);
    if (this.ended[S2C]) this.endOther(S2C);
    else passthrough(upstream, client);
  }

  // ---- writing with backpressure ------------------------------------------

  private writeRaw(h: HeldChunk): void {
    this.write(h.side === C2S ? this.upstream : this.client, h.chunk, h.side);
  }

  /** Writes to `dest`; when its buffer is full, stops reading side `pauseSide` until 'drain'. */
  private write(dest: Socket, data: Buffer, pauseSide: number): void {
    if (dest.destroyed || dest.writableEnded) return;
    if (dest.write(data)) return;
    if (dest === this.upstream) {
      this.pause(pauseSide, WAIT_UPSTREAM_DRAIN);
      if (this.upstreamDrain === null) {
        this.upstreamDrain = () => this.drained(WAIT_UPSTREAM_DRAIN);
        dest.once('drain', this.upstreamDrain);
      }
    } else {
      this.pause(pauseSide, WAIT_CLIENT_DRAIN);
      if (this.clientDrain === null) {
        this.clientDrain = () => this.drained(WAIT_CLIENT_DRAIN);
        dest.once('drain', this.clientDrain);
      }
    }
  }

  private drained(bit: number): void {
    if (bit === WAIT_UPSTREAM_DRAIN) this.upstreamDrain = null;
    else this.clientDrain = null;
    if (this.state === CLOSED || this.state === PIPE) return;
    this.unpause(C2S, bit);
    this.unpause(S2C, bit);
  }

  private socketOf(side: number): Socket {
    return side === C2S ? this.client : this.upstream;
  }

  private pause(side: number, why: number): void {
    if ((this.pauses[side] as number) === 0) this.socketOf(side).pause();
    this.pauses[side] = (this.pauses[side] as number) | why;
  }

  private unpause(side: number, why: number): void {
    const before = this.pauses[side] as number;
    if ((before & why) === 0) return;
    this.pauses[side] = before & ~why;
    if (this.pauses[side] === 0 && this.state !== CLOSED) this.socketOf(side).resume();
  }

  /** `side` sent FIN and everything it sent is out: half-close towards the other end. */
  private endOther(side: number): void {
    const dest = side === C2S ? this.upstream : this.client;
    if (!dest.destroyed && !dest.writableEnded) dest.end();
  }
}
