// The SessionContext a dissector gets: decide() turns an EventDraft into a
// full ImEvent with the tunnel's facts, asks the policy, counts it and writes
// the 'im event' log line, and hands it to the record store (src/audit).
// Methods live on the prototype and the per-tunnel state is a few fields, so
// an idle inspected tunnel pays for one small object here.
import type { Metrics } from '../admin/metrics';
import type { AuditSink } from '../audit/types';
import { newEventId } from '../events/id';
import type { EventDoor, ImEvent, Verdict } from '../events/types';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import { directionOf, type EventDraft, type FileDataSink, type InspectOptions, type SessionContext, type SessionLogger } from '../protocols/types';
import type { InspectSettings } from './settings';

export interface ContextDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  /** The record store's queue (src/audit); absent when recording is off. */
  audit?: AuditSink;
  /** Starts a reassembled file's transfer (hash, AV, archive: src/inspect/file-transfer.ts); set by createInspector. */
  openFile?: (facts: TunnelFacts, settings: InspectSettings, draft: EventDraft) => FileDataSink;
}

export interface TunnelFacts {
  readonly conn: string;
  readonly door: EventDoor;
  readonly clientIp: string;
  readonly user: string | undefined;
  readonly destination: { host: string; port: number };
}

/** Log lines of one session, carrying the tunnel's correlation fields. */
class TunnelLog implements SessionLogger {
  constructor(
    private readonly logger: Logger,
    private readonly facts: TunnelFacts,
    private readonly protocol: string,
  ) {}

  private fields(obj: object): object {
    const f = this.facts;
    return { door: f.door, conn: f.conn, client: f.clientIp, user: f.user, protocol: this.protocol, ...obj };
  }

  debug(obj: object, msg?: string): void {
    if (this.logger.isLevelEnabled('debug')) this.logger.debug(this.fields(obj), msg);
  }
  info(obj: object, msg?: string): void {
    this.logger.info(this.fields(obj), msg);
  }
  warn(obj: object, msg?: string): void {
    this.logger.warn(this.fields(obj), msg);
  }
  error(obj: object, msg?: string): void {
    this.logger.error(this.fields(obj), msg);
  }
}

/** Builds the ImEvent for a draft (exported for tests and the capture replayer, which passes the capture time). */
export function eventFromDraft(facts: TunnelFacts, draft: EventDraft, time = Date.now()): ImEvent {
  const d = facts.destination;
  const ev: ImEvent = {
    id: newEventId(),
    time,
    conn: facts.conn,
    door: facts.door,
    clientIp: facts.clientIp,
    groups: [],
    protocol: draft.protocol,
    direction: directionOf(draft.side),
    kind: draft.kind,
    host: d.host.toLowerCase(),
    destination: { host: d.host, port: d.port },
  };
  if (facts.user !== undefined) ev.user = facts.user;
  if (draft.app !== undefined) ev.app = draft.app;
  if (draft.account !== undefined) ev.account = draft.account;
  if (draft.peer !== undefined) ev.peer = draft.peer;
  if (draft.text !== undefined) ev.text = draft.text;
  if (draft.file !== undefined) ev.file = draft.file;
  return ev;
}

/**
 * Records one decided event: counters, the store, and the 'im event' JSON
 * line. With the record store on, the store is the record of allowed events
 * and their line is debug: writing every chat text to the log again halved
 * the web-IM ICAP rate (8.3k vs 14.0k req/s, docs/benchmarks.md) and copies
 * chat contents into logs. Blocks, redactions and `log` rules stay at info
 * so operators see policy at work in the log stream.
 */
export function recordEvent(deps: ContextDeps, ev: ImEvent, verdict: Verdict, detail: EventDraft['detail'], logTextMax: number): void {
  const protocol = ev.protocol ?? 'unknown';
  deps.metrics.countImEvent(protocol, ev.kind, verdict.action);
  deps.audit?.record(ev, verdict, detail);
  const level = deps.audit !== undefined && verdict.action === 'allow' ? 'debug' : 'info';
  if (!deps.logger.isLevelEnabled(level)) return;
  let text = ev.text;
  let textLength: number | undefined;
  if (text !== undefined && text.length > logTextMax) {
    textLength = text.length;
    text = text.slice(0, logTextMax);
  }
  const d = ev.destination;
  deps.logger[level](
    {
      event: ev.id,
      door: ev.door,
      conn: ev.conn,
      client: ev.clientIp,
      user: ev.user,
      protocol,
      app: ev.app,
      kind: ev.kind,
      direction: ev.direction,
      account: ev.account,
      peer: ev.peer,
      text,
      textLength,
      file: ev.file,
      dest: d ? `${d.host}:${d.port}` : undefined,
      detail,
      action: verdict.action,
      rule: verdict.rule,
    },
    'im event',
  );
}

export class TunnelSessionContext implements SessionContext {
  readonly log: SessionLogger;
  readonly openFile?: (draft: EventDraft) => FileDataSink;

  // facts and settings are protected, not readonly: the forwarded-request
  // context (forward.ts) re-points one context at each request in turn.
  constructor(
    protected readonly deps: ContextDeps,
    protected facts: TunnelFacts,
    protected settings: InspectSettings,
    protocol: string,
  ) {
    this.log = new TunnelLog(deps.logger, facts, protocol);
    const open = deps.openFile;
    if (open !== undefined) this.openFile = (draft) => open(this.facts, this.settings, draft);
  }

  get conn(): string {
    return this.facts.conn;
  }

  get destination(): { host: string; port: number } {
    return this.facts.destination;
  }

  get options(): InspectOptions {
    return this.settings.options;
  }

  decide(draft: EventDraft): Verdict {
    const ev = eventFromDraft(this.facts, draft);
    const verdict = this.deps.policy.evaluate(ev);
    ev.verdict = verdict;
    recordEvent(this.deps, ev, verdict, draft.detail, this.settings.logTextMax);
    return verdict;
  }

  redact(text: string, verdict: Verdict): string {
    return this.deps.policy.redact(text, verdict);
  }
}
