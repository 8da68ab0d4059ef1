// Options with defaults applied, shared by the server, connections and transactions.
import type { IcapLimits, IcapLogger, IcapObserver, IcapServerOptions, IcapService } from './types';

export interface Settings {
  services: ReadonlyMap<string, IcapService>;
  istag: () => string;
  serviceId: string;
  maxConnections: number;
  previewBytes: number;
  optionsTtlSeconds: number;
  idleTimeoutMs: number;
  transactionTimeoutMs: number;
  limits: IcapLimits;
  logger: IcapLogger;
  observer: IcapObserver | undefined;
  replayBufferBytes: number;
  maxDiscardBytes: number;
  bodyHighWaterMark: number;
  /** Bytes of a pipelined next request held while a transaction runs, before the socket is paused. */
  pipelineBytes: number;
  /** How long a closing connection may linger to let the peer read our last response. */
  closeLingerMs: number;
}

const DEFAULT_LIMITS: IcapLimits = {
  maxIcapHeaderBytes: 65536,
  maxHttpHeaderBytes: 65536,
  maxLineBytes: 8192,
  maxHeaderCount: 200,
};

function pos(v: number | undefined, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt;
}

export function resolveSettings(o: IcapServerOptions): Settings {
  const services = new Map<string, IcapService>();
  for (const s of o.services) {
    if (services.has(s.path)) throw new Error(`duplicate ICAP service path ${s.path}`);
    services.set(s.path, s);
  }
  const l: Partial<IcapLimits> = o.limits ?? {};
  const limits: IcapLimits = {
    maxIcapHeaderBytes: pos(l.maxIcapHeaderBytes, DEFAULT_LIMITS.maxIcapHeaderBytes),
    maxHttpHeaderBytes: pos(l.maxHttpHeaderBytes, DEFAULT_LIMITS.maxHttpHeaderBytes),
    maxLineBytes: pos(l.maxLineBytes, DEFAULT_LIMITS.maxLineBytes),
    maxHeaderCount: pos(l.maxHeaderCount, DEFAULT_LIMITS.maxHeaderCount),
  };
  return {
    services,
    istag: o.istag,
    serviceId: o.serviceId,
    maxConnections: pos(o.maxConnections, 256),
    previewBytes: typeof o.previewBytes === 'number' && o.previewBytes >= 0 ? o.previewBytes : 1024,
    optionsTtlSeconds: pos(o.optionsTtlSeconds, 3600),
    idleTimeoutMs: pos(o.idleTimeoutMs, 60000),
    transactionTimeoutMs: pos(o.transactionTimeoutMs, 300000),
    limits,
    logger: o.logger,
    observer: o.observer,
    replayBufferBytes: pos(o.replayBufferBytes, 1 << 20),
    maxDiscardBytes: pos(o.maxDiscardBytes, 1 << 20),
    bodyHighWaterMark: pos(o.bodyHighWaterMark, 1 << 16),
    pipelineBytes: limits.maxIcapHeaderBytes + limits.maxHttpHeaderBytes,
    closeLingerMs: 2000,
  };
}
