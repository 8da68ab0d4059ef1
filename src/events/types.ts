// The one event model both doors produce and the policy consumes. Fields are
// optional because each source knows a different subset: an ICAP transaction
// knows the URL, a tunnel knows the destination, a dissector (later) knows
// the account, peer and message text.
/** Where the event entered: a live door (redirect: DNS/firewall-redirected listeners), or `imgate replay` of a capture. */
export type EventDoor = 'icap' | 'socks5' | 'http' | 'redirect' | 'replay';

export type EventKind = 'login' | 'message' | 'file' | 'presence' | 'connection' | 'http' | 'unknown';
export const EVENT_KINDS: readonly EventKind[] = ['login', 'message', 'file', 'presence', 'connection', 'http', 'unknown'];

/** 'out': from the local user towards the network; 'in': towards the local user. */
export type Direction = 'in' | 'out';
export const DIRECTIONS: readonly Direction[] = ['in', 'out'];

export type Action = 'allow' | 'block' | 'redact' | 'log';
export const ACTIONS: readonly Action[] = ['allow', 'block', 'redact', 'log'];

export interface FileInfo {
  name?: string;
  size?: number;
  sha256?: string;
}

export interface Verdict {
  action: Action;
  /** Id of the matching rule, or "default". */
  rule: string;
}

export interface ImEvent {
  /** Unique per process run; doubles as the reference id on block pages. */
  id: string;
  /** Epoch milliseconds. */
  time: number;
  conn: string;
  door: EventDoor;
  clientIp?: string;
  user?: string;
  groups: string[];
  /** Wire protocol, e.g. "http", "xmpp", "irc". */
  protocol?: string;
  /** Application / service, e.g. "slack", "jabber". */
  app?: string;
  direction?: Direction;
  account?: string;
  peer?: string;
  kind: EventKind;
  text?: string;
  file?: FileInfo;
  url?: string;
  host?: string;
  method?: string;
  destination?: { host: string; port: number };
  verdict?: Verdict;
}
