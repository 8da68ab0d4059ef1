// `imgate replay FILE [--policy FILE] [--connections]`: replays a capture
// through the registered protocol modules and prints JSON lines on stdout:
// {"record":"event",...} per IM event (decided by the policy when given,
// else allowed by rule 'default') and, with --connections,
// {"record":"connection",...} per TCP connection. Warnings go to stderr.
import { eventFromDraft } from '../inspect/context';
import type { ImEvent, Verdict } from '../events/types';
import { loadPolicy } from '../policy/load';
import { PolicyStore } from '../policy/store';
import { directionOf, type EventDraft, type ProtocolModule } from '../protocols/types';
import type { ReplayConn, ReplayEvent, ReplayOptions, ReplayResult } from './api';
import { replayCapture } from './index';
import { embeddedAppsPath, loadAppsFile } from '../protocols/tls/apps';
import { setTlsApps } from '../protocols/tls/catalog';

export interface ReplayCliOptions {
  policy?: string;
  connections?: boolean;
  /** TLS application catalogue (default: the shipped conf/apps.yaml). */
  apps?: string;
}

export interface ReplayCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The ImEvent the live gateway would build for this draft, at capture time. */
export function replayImEvent(draft: EventDraft, conn: ReplayConn): ImEvent {
  const facts = { conn: conn.id, door: 'replay', clientIp: conn.clientIp, user: undefined, destination: { host: conn.serverIp, port: conn.serverPort } } as const;
  return eventFromDraft(facts, draft, conn.timeMs);
}

/**
 * One line per event in the field names of the live gateway's 'im event'
 * record (src/inspect/context.ts), so one event model reads the same
 * whether it came from a tunnel or from a capture.
 */
function eventLine(ev: ReplayEvent): Record<string, unknown> {
  return {
    record: 'event',
    time: ev.time,
    door: 'replay',
    conn: ev.conn,
    client: ev.client,
    dest: ev.server,
    protocol: ev.protocol,
    app: ev.app,
    kind: ev.kind,
    direction: directionOf(ev.side),
    account: ev.account,
    peer: ev.peer,
    text: ev.text,
    file: ev.file,
    detail: ev.detail,
    action: ev.verdict.action,
    rule: ev.verdict.rule,
  };
}

/** Returns the process exit code: 0 ok, 1 unreadable or not a capture, 2 invalid policy or apps file. */
export async function runReplay(file: string, o: ReplayCliOptions, modules: readonly ProtocolModule[], io: ReplayCliIo): Promise<number> {
  const opts: ReplayOptions = { modules };
  // TLS connections are classified by SNI exactly as the live gateway does.
  const appsFile = o.apps ?? embeddedAppsPath();
  try {
    setTlsApps(loadAppsFile(appsFile));
  } catch (err) {
    io.err(`${appsFile}: ${(err as Error).message}`);
    return 2;
  }
  if (o.policy !== undefined) {
    let store: PolicyStore;
    try {
      store = new PolicyStore(loadPolicy(o.policy));
    } catch (err) {
      const e = err as Error & { problems?: string[]; file?: string | null };
      for (const p of e.problems ?? [e.message]) io.err(`${o.policy}: ${p}`);
      return 2;
    }
    opts.decide = (draft: EventDraft, conn: ReplayConn): Verdict => store.evaluate(replayImEvent(draft, conn));
    opts.redact = (text: string, v: Verdict): string => store.redact(text, v);
  }
  let result: ReplayResult;
  try {
    result = await replayCapture(file, opts);
  } catch (err) {
    io.err(`imgate replay: ${(err as Error).message}`);
    return 1;
  }
  for (const ev of result.events) io.out(JSON.stringify(eventLine(ev)));
  if (o.connections) for (const c of result.connections) io.out(JSON.stringify({ record: 'connection', ...c }));
  for (const w of result.warnings) io.err(`warning: ${w}`);
  return 0;
}
