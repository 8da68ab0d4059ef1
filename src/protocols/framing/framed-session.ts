// The skeleton shared by dissector sessions over header-framed binary
// protocols (OSCAR, YMSG): a HeaderFramer per direction, the connection's
// closed state, the local account and the login decision. A protocol
// supplies its HeaderFormat, what to do with each complete unit, and how
// its events are labelled.
import type { Verdict } from '../../events/types';
import type { DissectorSession, EventDraft, SessionContext, SessionOutput, Side } from '../types';
import { HeaderFramer, type HeaderFormat } from './header-framer';

/** Verdicts that let the unit through unchanged. */
export const passes = (v: Verdict): boolean => v.action === 'allow' || v.action === 'log';

/** What a protocol says about one IM action; the session adds side, protocol, app and account. */
export type DraftBody = Omit<EventDraft, 'side' | 'protocol' | 'app' | 'account'>;

/** Undefined = forward unchanged, null = drop, Buffer = forward instead. */
export type UnitResult = Buffer | null | undefined;

export abstract class FramedSession implements DissectorSession {
  readonly passthrough = false;
  protected closed = false;
  /** The local user's IM account once a login or a sent message named it. */
  protected account: string | undefined;
  private readonly framers: Record<Side, HeaderFramer>;

  constructor(
    protected readonly ctx: SessionContext,
    protected readonly out: SessionOutput,
    format: HeaderFormat,
    /** Protocol name as written in close reasons: "OSCAR", "YMSG". */
    private readonly label: string,
  ) {
    this.framers = { c2s: this.framer(format, 'c2s'), s2c: this.framer(format, 's2c') };
  }

  push(from: Side, chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.framers[from].push(chunk);
    } catch (err) {
      // Parsing is bounds-checked throughout; this is the last line so that
      // a bug cannot take the relay down with it.
      this.close(`${this.label} dissector error: ${(err as Error).message}`);
    }
  }

  end(from: Side): void {
    if (!this.closed) this.framers[from].end();
  }

  /** Bytes held back across both directions (memory-bound checks). */
  get heldBytes(): number {
    return this.framers.c2s.heldBytes + this.framers.s2c.heldBytes;
  }

  /** A complete unit from `side`, while the connection is open. */
  protected abstract unit(side: Side, unit: Buffer): UnitResult;

  /** The protocol name and app of the events (the app may depend on the account). */
  protected abstract labels(): { protocol: string; app?: string };

  /** Non-unit bytes from `side` were skipped (only for formats that resynchronise). */
  protected resync(_side: Side, _skipped: number): void {}

  protected close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close(reason);
  }

  protected draft(side: Side, d: DraftBody): EventDraft {
    const ev: EventDraft = { ...d, side, ...this.labels() };
    if (this.account !== undefined) ev.account = this.account;
    return ev;
  }

  /** A login name seen on the wire: asks the policy once per new name; a refusal closes the connection. */
  protected login(name: string | undefined, source: string): null | undefined {
    if (name === undefined || name === this.account) return undefined;
    this.account = name;
    const v = this.ctx.decide(this.draft('c2s', { kind: 'login', detail: { source } }));
    if (passes(v)) return undefined;
    this.close(`${this.label} login of ${name} refused by rule ${v.rule}`);
    return null;
  }

  private framer(format: HeaderFormat, side: Side): HeaderFramer {
    return new HeaderFramer(format, this.ctx.options.maxUnitBytes, {
      unit: (unit) => (this.closed ? null : this.unit(side, unit)),
      forward: (data) => {
        if (!this.closed) this.out.forward(side, data);
      },
      fail: (reason) => this.close(reason),
      resync: (skipped) => this.resync(side, skipped),
    });
  }
}
