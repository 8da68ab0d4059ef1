// The one shape every IM protocol dissector has (after Suricata's app-layer
// parsers): a `probe` on the first bytes of each direction, a per-connection
// session that parses each direction incrementally, and the IM events it
// yields. Adding a protocol = adding a folder src/protocols/<name>/ whose
// index.ts exports a ProtocolModule, plus one line in src/protocols/registry.ts.
// The relay (src/inspect/) and the capture replayer (src/replay/) drive
// sessions through this interface only; dissectors never touch sockets.
import type { Direction, EventKind, FileInfo, Verdict } from '../events/types';

/** Which way bytes travel. 'c2s' = from the local user's client towards the server (outbound). */
export type Side = 'c2s' | 's2c';

export const otherSide = (s: Side): Side => (s === 'c2s' ? 's2c' : 'c2s');
export const directionOf = (s: Side): Direction => (s === 'c2s' ? 'out' : 'in');

/**
 * 'match': this protocol; 'no': not this protocol; 'more': cannot tell yet,
 * call again with more bytes (the caller stops asking after probeMaxBytes or
 * a timeout, and then treats 'more' as 'no').
 */
export type ProbeResult = 'match' | 'no' | 'more';

/** What a dissector reports; the gateway fills in connection, door, client, user, time, id. */
export interface EventDraft {
  kind: EventKind;
  /** Side the IM action came from: 'c2s' = the local user sent it. */
  side: Side;
  protocol: string;
  app?: string;
  /** The local user's IM account (JID, nick, screen name, passport), when known. */
  account?: string;
  /** The other party: user or channel/room. */
  peer?: string;
  text?: string;
  file?: FileInfo;
  /** Free-form protocol details worth recording (e.g. { mechanism: 'PLAIN' }); small. */
  detail?: Record<string, string | number | boolean>;
}

export interface SessionLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SessionContext {
  /** Connection id of the tunnel, for logs. */
  readonly conn: string;
  readonly destination: { host: string; port: number };
  /**
   * Ask the policy about one IM action (synchronous). The gateway builds the
   * full event, evaluates the policy, records/logs it and returns the verdict.
   * action: 'allow' | 'log' -> forward unchanged; 'block' -> suppress it and
   * tell the sender in the protocol's own way; 'redact' -> forward with
   * `redact(text)` applied to the message text (other kinds: treat as block).
   */
  decide(ev: EventDraft): Verdict;
  /** Applies the matched rule's redaction (matched substrings -> '****'). */
  redact(text: string, verdict: Verdict): string;
  /** Policy choices that are not per-event, e.g. STARTTLS handling. */
  readonly options: InspectOptions;
  readonly log: SessionLogger;
  /**
   * Starts a file the dissector reassembles from its own stream (XMPP IBB):
   * the sink hashes it, streams it to AV, archives it and records one 'file'
   * event when it ends. Absent outside a gateway (replay, harnesses): the
   * dissector then hashes and decides the completed transfer itself.
   */
  readonly openFile?: (draft: EventDraft) => FileDataSink;
}

/** Where a reassembled file's bytes go (see SessionContext.openFile). */
export interface FileDataSink {
  /** Next bytes of the file, in order; the sink may keep `chunk` (callers pass fresh buffers). */
  write(chunk: Buffer): void;
  /**
   * No more bytes: `ended` says the protocol closed the transfer normally.
   * The sink records one 'file' event: size, sha256, detail.transfer
   * complete (ended and the declared size, if any, matches) or partial.
   * `detail` is merged into the event's detail. Idempotent.
   */
  end(ended: boolean, detail?: Record<string, string | number | boolean>): void;
}

/** What a held-back tail learns when its file was decided: pass it on, or drop it (`why` is logged). */
export type FileVerdict = { pass: true } | { pass: false; why: string; rule: string };

/**
 * A sink that decides its file (the gateway's FileTransfer, src/inspect/
 * file-transfer.ts): a dissector may hold a file's last units back until
 * `verdict` settles (XMPP IBB, MSNP2P). Sinks without it (DecideSink in
 * src/protocols/files/sink.ts) decide synchronously and nothing is held.
 */
export interface VerdictSink extends FileDataSink {
  /** True when an AV scanner sees the bytes: only then is holding worth it. */
  readonly scanning: boolean;
  /** Settles once, after end(): block for infected or fail-closed, else pass. */
  readonly verdict: Promise<FileVerdict>;
  /** How long to wait for `verdict` after end(), and what silence means. */
  verdictWait(): { ms: number; failOpen: boolean };
  /**
   * Bytes of the file's tail to hold until the verdict
   * (inspect.file_hold_back_bytes); 0 = stream everything and only record.
   * Absent: the dissector's own default.
   */
  readonly holdBackBytes?: number;
}

export interface InspectOptions {
  /** XMPP/IRC STARTTLS: 'pass' (go blind, log), 'strip' (hide the offer), 'block' (close). */
  starttls: 'pass' | 'strip' | 'block';
  /** Max bytes one protocol unit (stanza, line, frame) may take before the tunnel is closed. */
  maxUnitBytes: number;
}

/** Where a session writes bytes; the relay maps these to sockets (or a capture sink). */
export interface SessionOutput {
  /** Send bytes on towards the other end of `from` (forwarding, possibly rewritten). */
  forward(from: Side, data: Buffer): void;
  /** Send bytes back to the `to` end (a gateway-made reply: error stanza, NOTICE, cancel). */
  inject(to: Side, data: Buffer): void;
  /** Give up on the connection, with a reason that is logged (bad framing, unit too large). */
  close(reason: string): void;
}

export interface DissectorSession {
  /**
   * Bytes received from `from`, in order. Every byte not deliberately dropped
   * or rewritten must be forwarded (via out.forward) in order. Must not throw:
   * malformed input calls out.close(reason) or degrades to forwarding.
   */
  push(from: Side, chunk: Buffer): void;
  /** `from` sent FIN: flush anything held back for that side. */
  end(from: Side): void;
  /**
   * True once the session needs no more inspection (e.g. after STARTTLS was
   * passed): the relay flushes and switches both directions to a bare pipe.
   */
  readonly passthrough: boolean;
  /**
   * Optional: the tunnel is gone (both sockets closed, for whatever reason).
   * Release what outlives a push(): timers of held units waiting for a
   * verdict, file sinks still open. Nothing may be written after this.
   */
  dispose?(): void;
}

/**
 * A tunnel whose destination a protocol announced earlier on another
 * connection (an IRC DCC offer, later an XMPP bytestream or OSCAR rendezvous):
 * the event that describes it, and the verdict already given to the offer.
 */
export interface ExpectedConnection {
  event: EventDraft;
  /** The verdict the offer got: a blocked offer keeps its data connection blocked. */
  offer: Verdict;
  /**
   * How to find the file's own bytes in what the offerer sends on the data
   * connection (the direction from the dialled upstream to the client).
   * Absent: the connection carries the raw file (IRC DCC SEND). Present when
   * the protocol frames it (OSCAR OFT headers around the data).
   */
  payload?: () => FilePayload;
  /**
   * Which end of the data connection sends the file. Absent: 'upstream' (the
   * client dialled the sender: DCC SEND, OFT request 1). 'client': the client
   * dialled the receiver and sends (OFT reverse rendezvous, request 2).
   */
  fileFrom?: 'upstream' | 'client';
}

/** Pulls a file's own bytes out of a framed data connection (see ExpectedConnection.payload). */
export interface FilePayload {
  /**
   * Next bytes from the offerer, in order. Returns the file bytes among them
   * (subarrays of `chunk`, possibly none). Never throws: bytes it cannot
   * frame end the extraction (`state` becomes 'failed').
   */
  push(chunk: Buffer): Buffer[];
  /**
   * 'header': still reading framing before the data; 'data': in the file;
   * 'done': the declared size was read whole (later bytes are trailer);
   * 'failed': the framing broke, the transfer is recorded as partial.
   */
  readonly state: 'header' | 'data' | 'done' | 'failed';
  /** Why the framing broke (state 'failed'), in the protocol's terms, for the log and the file event. */
  readonly failure?: string;
  /** The file's name and declared size as the data connection states them, when it does (OFT prompt). */
  readonly declared?: { name?: string; size?: number };
}

export interface ProtocolModule {
  /** Lower-case protocol name used in events and policy (`protocol: [xmpp]`). */
  readonly name: string;
  /** Look at the first bytes received from `from` (accumulated, never empty). */
  probe(from: Side, head: Buffer): ProbeResult;
  create(ctx: SessionContext, out: SessionOutput): DissectorSession;
  /**
   * Optional: is a new tunnel to host:port a data connection this protocol
   * announced (file transfer, direct chat)? Asked before the dial.
   */
  expectedConnection?(host: string, port: number): ExpectedConnection | undefined;
}
