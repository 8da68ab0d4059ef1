// The SessionContext a protocol's own dissector gets when it reads IM carried
// in ICAP bodies (MSN HTTP gateway, Yahoo HTTP): its drafts become events on
// the session's current base event, decided by the policy and recorded like
// every web IM event; its log lines carry the door and protocol.
import type { IcapRequest } from '../../icap/types';
import { newEventId } from '../events/id';
import type { ImEvent, Verdict } from '../events/types';
import { recordEvent, type ContextDeps } from '../inspect/context';
import { directionOf, type EventDraft, type SessionContext } from '../protocols/types';

export interface IcapSessionLabels {
  /** The protocol named in log lines (the drafts name their own). */
  protocol: string;
  /** The app of events whose draft names none. */
  app: string;
  /** Each verdict, after it is recorded (e.g. to count the ones that change bytes). */
  onVerdict?: (v: Verdict) => void;
}

export function icapSessionContext(
  deps: ContextDeps & { logTextMax?: number },
  maxUnitBytes: number,
  req: IcapRequest,
  base: ImEvent,
  current: () => ImEvent,
  labels: IcapSessionLabels,
): SessionContext {
  const log = deps.logger;
  const fields = { door: 'icap', protocol: labels.protocol };
  return {
    conn: req.connectionId,
    destination: base.destination ?? { host: base.host ?? '', port: 80 },
    decide: (d: EventDraft): Verdict => {
      const ev: ImEvent = { ...current(), id: newEventId(), time: Date.now(), kind: d.kind, protocol: d.protocol, direction: directionOf(d.side), app: d.app ?? labels.app };
      delete ev.verdict;
      if (d.account !== undefined) ev.account = d.account;
      if (d.peer !== undefined) ev.peer = d.peer;
      if (d.text !== undefined) ev.text = d.text;
      if (d.file !== undefined) ev.file = d.file;
      const v = deps.policy.evaluate(ev);
      ev.verdict = v;
      recordEvent(deps, ev, v, d.detail, deps.logTextMax ?? 4096);
      labels.onVerdict?.(v);
      return v;
    },
    redact: (t, v) => deps.policy.redact(t, v),
    options: { starttls: 'pass', maxUnitBytes },
    log: {
      debug: (o, m) => log.debug({ ...fields, ...o }, m),
      info: (o, m) => log.info({ ...fields, ...o }, m),
      warn: (o, m) => log.warn({ ...fields, ...o }, m),
      error: (o, m) => log.error({ ...fields, ...o }, m),
    },
  };
}
