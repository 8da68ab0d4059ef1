// Wires config, policy, metrics and logging to the listeners: ICAP server,
// SOCKS5 door, HTTP proxy door, admin server. The only file that knows the
// factories of icap/ and socks/ (overridable for tests).
import { createIcapServer } from '../icap/server';
import type { IcapServer, IcapServerOptions } from '../icap/types';
import type { Door, HttpProxyDoorOptions, Socks5DoorOptions } from '../socks/types';
import { createHttpProxyDoor } from '../socks/http-door';
import { createSocks5Door } from '../socks/socks5-door';
import { createAdminServer, type AdminServer } from './admin/server';
import { Metrics } from './admin/metrics';
import { Readiness } from './admin/readiness';
import { adminUiOptions } from './admin/setup';
import { createAudit, type Audit } from './audit';
import { createAvService, type AvService } from './av';
import { loadConfig, type Config } from './config/load';
import { createIcapServices } from './icap-services/services';
import { createInspector, decideExpected, inspectSettingsFromConfig, type InspectSettings } from './inspect';
import { createLogger, type Logger } from './log';
import { loadPolicy } from './policy/load';
import { PolicyStore } from './policy/store';
import { modules } from './protocols/registry';
import { loadAppsFile, resolveAppsPath, setTlsApps, type AppCatalog } from './protocols/tls';
import { accessFromConfig, createDoorHooks, type AccessSnapshot } from './relay/hooks';
import { createRelay } from './relay/relay';
import { createRedirectListeners, redirectSettingsFromConfig, type RedirectSettings } from './redirect';
import { TunnelTracker } from './relay/tunnels';
import { loadWebImFile, resolveWebImPath, WebImInspector, type WebImCatalog } from './web';

export interface Factories {
  createIcapServer(opts: IcapServerOptions): IcapServer;
  createSocks5Door(opts: Socks5DoorOptions): Door;
  createHttpProxyDoor(opts: HttpProxyDoorOptions): Door;
}

export const defaultFactories: Factories = {
  createIcapServer,
  createSocks5Door,
  createHttpProxyDoor,
};

export type ListenerName = 'icap' | 'socks5' | 'http' | 'admin' | `redirect-${number}`;

export interface GatewayOptions {
  logger?: Logger;
  factories?: Partial<Factories>;
  /** --policy from the command line; kept across reloads. */
  policyOverride?: string;
  /** Set false in tests that create many gateways. */
  defaultMetrics?: boolean;
}

export interface ReloadResult {
  istag: string;
  policyChanged: boolean;
  /** Config sections whose changes only apply after a restart. */
  needsRestart: string[];
}

export interface Gateway {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly policy: PolicyStore;
  readonly readiness: Readiness;
  readonly tunnels: TunnelTracker;
  /** The record store (null when audit.enabled is false). */
  readonly audit: Audit | null;
  /** The live AV service (replaced on reload when `av` changes). */
  av(): AvService;
  /** Bound addresses of the listeners that are up. */
  readonly listeners: Partial<Record<ListenerName, { address: string; port: number }>>;
  config(): Config;
  reload(): Promise<ReloadResult>;
  drain(timeoutMs?: number): Promise<void>;
}

type Closer = (drainMs: number) => Promise<void>;

function loadApps(config: Config): AppCatalog {
  return loadAppsFile(resolveAppsPath(config.configFile, config.inspect.apps_file));
}

function loadWebIm(config: Config): WebImCatalog {
  return loadWebImFile(resolveWebImPath(config.configFile));
}

/** ICAP replay buffer: a web IM body read for inspection must still be echoable (body limit + stream slack). */
const WEBIM_REPLAY_BYTES = 2 * 1024 * 1024 + 512 * 1024;

const RESTART_SECTIONS = ['icap', 'socks5', 'http_proxy', 'admin', 'data_dir', 'audit'] as const;

export async function startGateway(initial: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  const factories: Factories = { ...defaultFactories, ...opts.factories };
  const logger = opts.logger ?? createLogger(initial.log.level);
  let config = initial;
  const policy = new PolicyStore(loadPolicy(config.policyPath, config.policyExplicit));
  let access: AccessSnapshot = accessFromConfig(config);
  let inspect: InspectSettings = inspectSettingsFromConfig(config);
  let redirect: RedirectSettings = redirectSettingsFromConfig(config);
  setTlsApps(loadApps(config));
  let webim = loadWebIm(config);
  const metrics = new Metrics({ defaultMetrics: opts.defaultMetrics });
  const readiness = new Readiness();
  const tunnels = new TunnelTracker();
  // Record store (src/audit/): every decided event goes through its queue.
  const audit: Audit | null = initial.audit.enabled
    ? await createAudit(initial, {
        logger: logger.child({ component: 'audit' }),
        metrics: {
          written: (n) => metrics.auditWritten.inc(n),
          dropped: (n) => metrics.auditDropped.inc(n),
          failed: (n) => metrics.auditFailed.inc(n),
          depth: (n) => metrics.auditQueueDepth.set(n),
        },
      })
    : null;
  const auditSink = audit ? { audit: audit.sink } : {};
  // AV scanners (src/av/): rebuilt on reload; their signature versions feed
  // the ISTag, their breakers /readyz (one check per scanner name).
  const makeAv = (c: Config): AvService =>
    createAvService(c.av, { logger: logger.child({ component: 'av' }), metrics, dataDir: c.dataDir, onVersions: (v) => policy.setScannerVersions(v) });
  let av = makeAv(config);
  const avChecks = new Set<string>();
  const addAvChecks = (): void => {
    for (const { name } of av.health()) {
      if (avChecks.has(name)) continue;
      avChecks.add(name);
      readiness.addCheck({
        name: `av:${name}`,
        ok: () => {
          const h = av.health().find((x) => x.name === name);
          return !h || !h.required || (h.reachable && h.state !== 'open');
        },
      });
    }
  };
  addAvChecks();
  const listeners: Gateway['listeners'] = {};
  const closers: Array<{ name: ListenerName; close: Closer }> = [];

  const onTunnel = createRelay({
    metrics,
    logger,
    tracker: tunnels,
    idleTimeoutMs: () => config.tunnel.idle_timeout_ms,
    dataPhase: createInspector({
      modules, policy, metrics, logger, ...auditSink, settings: () => inspect,
      // Files crossing tunnels: scanned by the live AV service, archived when the store keeps files.
      av: () => av,
      ...(audit && initial.audit.files.enabled ? { archiveFile: audit.archiveFile } : {}),
    }),
  });
  const hooks = createDoorHooks({
    access: () => access,
    policy,
    metrics,
    logger,
    onTunnel,
    expected: (req) => (inspect.enabled ? decideExpected({ policy, metrics, logger, ...auditSink }, modules, req, inspect.logTextMax) : undefined),
  });

  const bound = (name: ListenerName, addr: { address: string; port: number }): void => {
    listeners[name] = addr;
    readiness.set(name, { state: 'bound', address: addr.address, port: addr.port });
    logger.info({ door: name, address: addr.address, port: addr.port }, 'listening');
  };

  async function start(name: ListenerName, host: string, port: number, up: () => Promise<{ address: string; port: number }>, close: Closer) {
    readiness.set(name, { state: 'starting' });
    try {
      const addr = await up();
      closers.push({ name, close });
      bound(name, addr);
    } catch (err) {
      readiness.setState(name, 'failed');
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'address not available on this host' : e.message;
      throw new Error(`${name}: cannot listen on ${host}:${port}: ${why}`);
    }
  }

  try {
    if (config.admin.enabled) {
      // The UI reads the record store, the archive under data_dir and the live policy (swapped on reload).
      const ui = adminUiOptions(config, { store: () => audit?.store ?? null, dataDir: () => initial.dataDir, policy }, logger);
      const admin: AdminServer = createAdminServer({ metrics, readiness, logger: logger.child({ door: 'admin' }), ...(ui ? { ui } : {}) });
      const { host, port } = config.admin.listen;
      // Registered now so /readyz reports the other listeners as "starting".
      for (const [n, on] of [['icap', config.icap.enabled], ['socks5', config.socks5.enabled], ['http', config.http_proxy.enabled]] as const) {
        if (on) readiness.set(n, { state: 'starting' });
      }
      config.redirect.listeners.forEach((_, i) => readiness.set(`redirect-${i}`, { state: 'starting' }));
      await start('admin', host, port, () => admin.listen(port, host), () => admin.close());
    }
    if (config.icap.enabled) {
      const c = config.icap;
      const icapLogger = logger.child({ door: 'icap' });
      const server = factories.createIcapServer({
        services: createIcapServices(c.services, {
          policy, metrics, logger: icapLogger,
          webim: {
            catalog: () => webim,
            inspector: new WebImInspector({
              policy, metrics, logger: icapLogger, ...auditSink,
              ...(audit ? { archiveFile: (b: Buffer, m: { name?: string }) => audit.archive.putBuffer(b, m) } : {}),
              catalog: () => webim, av: () => av, replayBufferBytes: WEBIM_REPLAY_BYTES, logTextMax: inspect.logTextMax }),
          },
        }),
        replayBufferBytes: WEBIM_REPLAY_BYTES,
        istag: () => policy.istag,
        serviceId: c.service_id,
        maxConnections: c.max_connections,
        previewBytes: c.preview_bytes,
        optionsTtlSeconds: c.options_ttl_seconds,
        idleTimeoutMs: c.idle_timeout_ms,
        transactionTimeoutMs: c.transaction_timeout_ms,
        limits: {
          maxIcapHeaderBytes: c.limits.max_icap_header_bytes,
          maxHttpHeaderBytes: c.limits.max_http_header_bytes,
          maxLineBytes: c.limits.max_line_bytes,
          maxHeaderCount: c.limits.max_header_count,
        },
        logger: icapLogger,
        observer: {
          onTransaction(info) {
            metrics.icapRequestsTotal.inc({ method: info.method, status: String(info.status) });
            metrics.icapDuration.observe({ method: info.method }, info.durationMs / 1000);
          },
          onConnection(delta) {
            if (delta > 0) metrics.connectionsTotal.inc({ door: 'icap' });
            metrics.connectionsActive.inc({ door: 'icap' }, delta);
          },
        },
      });
      await start('icap', c.listen.host, c.listen.port, () => server.listen(c.listen.port, c.listen.host), (ms) => server.close(ms));
    }
    if (config.socks5.enabled) {
      const c = config.socks5;
      const door = factories.createSocks5Door({
        host: c.listen.host,
        port: c.listen.port,
        auth: c.auth,
        handshakeTimeoutMs: c.handshake_timeout_ms,
        hooks,
        logger: logger.child({ door: 'socks5' }),
      });
      await start('socks5', c.listen.host, c.listen.port, () => door.listen(), () => door.close());
    }
    if (config.http_proxy.enabled) {
      const c = config.http_proxy;
      const door = factories.createHttpProxyDoor({
        host: c.listen.host,
        port: c.listen.port,
        auth: c.auth,
        realm: c.realm,
        headerTimeoutMs: c.header_timeout_ms,
        maxHeaderBytes: c.max_header_bytes,
        keepAliveTimeoutMs: c.keepalive_timeout_ms,
        hooks,
        logger: logger.child({ door: 'http' }),
      });
      await start('http', c.listen.host, c.listen.port, () => door.listen(), () => door.close());
    }
    // Redirected mode (src/redirect/): after the doors, so loop protection sees their addresses.
    const ownAddresses = () => Object.values(listeners).filter((a) => a !== undefined);
    for (const r of createRedirectListeners(config, { hooks, logger: logger.child({ door: 'redirect' }), settings: () => redirect, ownAddresses })) {
      await start(r.name, r.spec.host, r.spec.port, () => r.listen(), () => r.close());
    }
  } catch (err) {
    await Promise.allSettled(closers.map((c) => c.close(0)));
    tunnels.destroyAll();
    await audit?.close();
    throw err;
  }
  logger.info({ istag: policy.istag, rules: policy.current.policy.doc.rules.length, policy: policy.current.policy.file ?? '(default)' }, 'imgate started');

  let draining: Promise<void> | null = null;

  return {
    logger,
    metrics,
    policy,
    readiness,
    tunnels,
    audit,
    av: () => av,
    listeners,
    config: () => config,

    async reload(): Promise<ReloadResult> {
      // Build everything first; swap only when all of it is valid.
      const next = config.configFile
        ? loadConfig(config.configFile, { policyOverride: opts.policyOverride })
        : config;
      const nextPolicy = loadPolicy(next.policyPath, next.policyExplicit);
      const nextAccess = accessFromConfig(next);
      const nextApps = loadApps(next);
      const nextWebim = loadWebIm(next);
      const needsRestart: string[] = RESTART_SECTIONS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
      if (JSON.stringify(next.redirect.listeners) !== JSON.stringify(config.redirect.listeners)) needsRestart.push('redirect.listeners');
      const policyChanged = nextPolicy.hash !== policy.current.policy.hash;
      const avChanged = JSON.stringify(next.av) !== JSON.stringify(config.av) || next.dataDir !== config.dataDir;
      config = next;
      access = nextAccess;
      inspect = inspectSettingsFromConfig(next);
      redirect = redirectSettingsFromConfig(next);
      setTlsApps(nextApps);
      webim = nextWebim;
      policy.replace(nextPolicy);
      if (avChanged) {
        const old = av;
        av = makeAv(next);
        addAvChecks();
        policy.setScannerVersions(av.signatureVersions());
        void old.close();
      }
      logger.level = next.log.level;
      for (const section of needsRestart) {
        logger.warn({ section }, `config section "${section}" changed: restart imgate to apply it`);
      }
      logger.info({ istag: policy.istag, policyChanged, rules: nextPolicy.doc.rules.length }, 'reloaded');
      return { istag: policy.istag, policyChanged, needsRestart };
    },

    drain(timeoutMs = config.shutdown.drain_timeout_ms): Promise<void> {
      if (draining) return draining;
      draining = (async () => {
        const started = Date.now();
        for (const c of closers) readiness.setState(c.name, 'draining');
        logger.info({ tunnels: tunnels.size, timeoutMs }, 'draining');
        // Doors and ICAP stop accepting at once; ICAP waits for its own
        // in-flight transactions, the tracker for tunnels, both in parallel.
        const serving = closers.filter((c) => c.name !== 'admin');
        const closing = serving.map((c) =>
          c.close(timeoutMs).then(
            () => readiness.setState(c.name, 'closed'),
            (err: unknown) => logger.error({ door: c.name, err: (err as Error).message }, 'close failed'),
          ),
        );
        const finished = await tunnels.waitIdle(timeoutMs);
        if (!finished) {
          const n = tunnels.destroyAll();
          logger.warn({ tunnels: n }, 'drain timeout: tunnels destroyed');
          // Destroyed sockets report 'close' on a later tick; wait for the
          // bookkeeping (metrics, logs) so callers see a settled state.
          await tunnels.waitIdle(1000);
        }
        await Promise.all(closing);
        await av.close();
        // After every door and tunnel is closed, so no event arrives later:
        // the whole queue is written before the process exits.
        await audit?.close();
        const admin = closers.find((c) => c.name === 'admin');
        if (admin) {
          await admin.close(0);
          readiness.setState('admin', 'closed');
        }
        logger.info({ ms: Date.now() - started }, 'drained');
      })();
      return draining;
    },
  };
}
