// Public contract of the ICAP/1.0 library (RFC 3507). Wire protocol only:
// nothing here knows about IM, policy or scanners. `src/` implements
// IcapService and turns its decisions into IcapVerdict values.
import type { Readable, Writable } from 'node:stream';

export type IcapMethod = 'OPTIONS' | 'REQMOD' | 'RESPMOD';
export type AdaptMethod = Exclude<IcapMethod, 'OPTIONS'>;

/** Ordered header list, names as received (case preserved), for byte-faithful echo. */
export type HeaderList = Array<[name: string, value: string]>;

/** An encapsulated HTTP request or response header block. */
export interface HttpHead {
  /** "GET http://h/p HTTP/1.1" or "HTTP/1.1 200 OK", without CRLF. */
  startLine: string;
  headers: HeaderList;
  /** First header value for a case-insensitive name. */
  get(name: string): string | undefined;
}

/** Identity of the end user, as the ICAP client (Squid) reports it. */
export interface IcapClientInfo {
  /** X-Client-IP */
  ip?: string;
  /** X-Client-Username, else X-Authenticated-User (plain or base64-decoded). */
  user?: string;
  /** X-Authenticated-Groups, split on commas, each decoded like the user. */
  groups: string[];
}

export interface IcapRequest {
  /** Library-assigned id "c<conn>-<n>" for logs. */
  id: string;
  connectionId: string;
  method: AdaptMethod;
  /** Full request URI as sent, e.g. "icap://127.0.0.1:1344/reqmod?x=1". */
  uri: string;
  /** Service path, e.g. "/reqmod" (no query). */
  servicePath: string;
  query: string;
  /** ICAP headers, lowercased names; repeated headers joined with ", ". */
  headers: ReadonlyMap<string, string>;
  /** The encapsulated HTTP request (REQMOD always when present; RESPMOD when req-hdr sent). */
  httpRequest?: HttpHead;
  /** The encapsulated HTTP response (RESPMOD). */
  httpResponse?: HttpHead;
  /** True when the message carries a body (req-body / res-body), false for null-body. */
  hasBody: boolean;
  /**
   * Decoded body bytes (chunking removed). Present iff hasBody. Reading past
   * the preview makes the server send "100 Continue" (only when the preview
   * ended without ieof). Handlers that decide without reading leave it
   * untouched, so an allow verdict can stream the original through.
   */
  body: Readable | null;
  /** Preview size the client announced, or null when no preview. */
  preview: number | null;
  /** Client sent "Allow: 204" (204 legal outside the preview). */
  allow204: boolean;
  client: IcapClientInfo;
  remoteAddress: string;
  remotePort: number;
}

/** A replacement or rewritten HTTP head that the server serializes. */
export interface HttpHeadOut {
  startLine: string;
  headers: HeaderList;
}

/** Body of a verdict: bytes, a stream, or "keep the original body as it streams in". */
export type VerdictBody = Buffer | Readable | 'original' | null;

export type IcapVerdict =
  /** No change: 204 where legal, else a streamed echo of the original message. */
  | { kind: 'allow' }
  /**
   * Answer with an HTTP response instead. REQMOD: request satisfaction (the
   * request never reaches the origin). RESPMOD: replaces the origin response.
   */
  | { kind: 'block'; response: HttpHeadOut; body: Buffer | null; reason?: string }
  /**
   * Rewrite. REQMOD may set `request`; RESPMOD may set `response`. Omitted
   * heads are sent unchanged. `body` defaults to 'original'.
   */
  | { kind: 'modify'; request?: HttpHeadOut; response?: HttpHeadOut; body?: VerdictBody }
  /**
   * Answer now, decide later (what c-icap calls "send percent data"): the
   * 200 with the original head starts at once and the virgin body streams
   * out as it arrives, while `sink` receives the same bytes (e.g. a scanner
   * spooling them). The last `holdBackBytes` are kept back until `decision`
   * settles: 'pass' sends them and ends the body; 'abort' (or a rejection)
   * closes the ICAP connection mid-body, so the client never gets a complete
   * message. Reading pauses while either the socket or `sink` is full.
   * `sink` is ended at the body's end and destroyed if the connection dies.
   * A decision that comes before the body's end stops feeding `sink`
   * ('pass': the rest streams straight through). Without a body this is a
   * plain allow. The handler must not have read more of req.body than the
   * replay buffer keeps.
   */
  | Trickle;

export type TrickleDecision = 'pass' | 'abort';

export interface Trickle {
  kind: 'trickle';
  sink: Writable;
  holdBackBytes: number;
  decision: Promise<TrickleDecision>;
}

export interface IcapService {
  /** Service path, e.g. "/reqmod". */
  path: string;
  /** Exactly one method per URI (RFC 3507 §6.4). */
  method: AdaptMethod;
  /** Service header for OPTIONS, e.g. "imgate REQMOD". */
  description: string;
  /** Decide. May read req.body. A rejection becomes ICAP 500 (logged). */
  handle(req: IcapRequest): Promise<IcapVerdict>;
}

export interface IcapLimits {
  /** Max bytes of ICAP header block (request line + headers). Default 64 KiB. */
  maxIcapHeaderBytes: number;
  /** Max bytes of the encapsulated HTTP header blocks together. Default 64 KiB. */
  maxHttpHeaderBytes: number;
  /** Max length of any single header/request/chunk-size line. Default 8 KiB. */
  maxLineBytes: number;
  /** Max number of header fields per block. Default 200. */
  maxHeaderCount: number;
}

/** Minimal structured logger (pino-compatible subset). */
export interface IcapLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Observers for metrics; called once per finished transaction / connection. */
export interface IcapObserver {
  onTransaction?(info: {
    method: IcapMethod | 'UNKNOWN';
    service: string;
    status: number;
    durationMs: number;
    bytesIn: number;
    bytesOut: number;
  }): void;
  onConnection?(delta: 1 | -1): void;
}

export interface IcapServerOptions {
  services: IcapService[];
  /** Current ISTag value WITHOUT quotes (<= 30 chars); called per response. */
  istag: () => string;
  /** OPTIONS Service-ID / ServiceId value. */
  serviceId: string;
  maxConnections: number;
  /** Preview size offered in OPTIONS. Default 1024. */
  previewBytes: number;
  /** Options-TTL seconds. Default 3600. */
  optionsTtlSeconds: number;
  /** Idle keep-alive timeout between transactions (ms). Default 60000. */
  idleTimeoutMs: number;
  /** Max time without progress inside a transaction (ms). Default 300000. */
  transactionTimeoutMs: number;
  limits: IcapLimits;
  logger: IcapLogger;
  observer?: IcapObserver;
}

/**
 * Optional tuning knobs (added after the first contract; all have defaults,
 * so existing callers need not set them).
 */
export interface IcapServerTuning {
  /**
   * Bytes of body the handler may read and still get a streamed echo for an
   * allow verdict (the server keeps what it handed out). Default 1 MiB.
   * Beyond that an allow that needs an echo becomes ICAP 500.
   */
  replayBufferBytes?: number;
  /**
   * After an early answer (204 / block / buffered modify) the rest of the
   * virgin body is read and dropped to keep the connection in sync, up to
   * this many bytes; a longer (or unknown-length) remainder makes the server
   * answer with "Connection: close" instead. Default 1 MiB.
   */
  maxDiscardBytes?: number;
  /** Body bytes buffered for a handler that has not read yet. Default 64 KiB. */
  bodyHighWaterMark?: number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface IcapServerOptions extends IcapServerTuning {}

/** A running ICAP server (see icap/server.ts createIcapServer). */
export interface IcapServer {
  /** Bind; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ address: string; port: number }>;
  /**
   * Stop accepting. Idle connections are closed; new requests on busy ones
   * get 503 + Connection: close; in-flight transactions get up to drainMs,
   * then every socket is destroyed.
   */
  close(drainMs: number): Promise<void>;
  /** Open client connections (including ones being refused with 503). */
  connections(): number;
}
