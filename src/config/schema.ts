// zod schema of conf/imgate.yaml. Every key is optional; the defaults here
// are the embedded defaults (and match conf/imgate.yaml). Objects are strict
// so a typo is an error, not a silently ignored key.
import { z } from 'zod';
import { parseCidr } from '../util/cidr';
import { avSchema } from '../av/schema';

const int = (min: number, max: number, what = `an integer ${min}-${max}`) =>
  z
    .number({ invalid_type_error: `expected ${what}`, required_error: `expected ${what}` })
    .int(`expected ${what}`)
    .min(min, `expected ${what}`)
    .max(max, `expected ${what}`);

const port = int(0, 65535);
const ms = int(1, 2_147_483_647, 'a positive integer (milliseconds)');
const count = (max: number) => int(1, max, `an integer 1-${max}`);
const bool = z.boolean({ invalid_type_error: 'expected true or false' });
const str = z.string({ invalid_type_error: 'expected a string' }).min(1, 'expected a non-empty string');
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values as unknown as [T[number], ...T[number][]], { errorMap: () => ({ message: `expected one of ${values.join(', ')}` }) });

const cidr = z.string({ invalid_type_error: 'expected a CIDR string' }).superRefine((v, ctx) => {
  try {
    parseCidr(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
  }
});

const listen = (defPort: number) =>
  z
    .object({
      host: z.string({ invalid_type_error: 'expected an IP address string' }).ip({ message: 'expected an IP address literal' }).default('127.0.0.1'),
      port: port.default(defPort),
    })
    .strict()
    .default({});

const icap = z
  .object({
    enabled: bool.default(true),
    listen: listen(1344),
    service_id: str.max(64, 'expected at most 64 characters').default('imgate'),
    services: z
      .object({
        reqmod: str.regex(/^\/\S*$/, 'expected a path starting with "/"').default('/reqmod'),
        respmod: str.regex(/^\/\S*$/, 'expected a path starting with "/"').default('/respmod'),
      })
      .strict()
      .default({}),
    max_connections: count(100_000).default(256),
    preview_bytes: int(0, 1_048_576).default(1024),
    options_ttl_seconds: int(0, 86_400 * 365).default(3600),
    idle_timeout_ms: ms.default(60_000),
    transaction_timeout_ms: ms.default(300_000),
    limits: z
      .object({
        max_icap_header_bytes: count(16_777_216).default(65_536),
        max_http_header_bytes: count(16_777_216).default(65_536),
        max_line_bytes: count(1_048_576).default(8192),
        max_header_count: count(100_000).default(200),
      })
      .strict()
      .default({}),
  })
  .strict()
  .default({});

const socks5 = z
  .object({
    enabled: bool.default(true),
    listen: listen(1080),
    auth: oneOf(['none', 'userpass']).default('none'),
    handshake_timeout_ms: ms.default(10_000),
  })
  .strict()
  .default({});

const httpProxy = z
  .object({
    enabled: bool.default(true),
    listen: listen(3129),
    auth: oneOf(['none', 'basic']).default('none'),
    realm: str.regex(/^[^"\r\n]*$/, 'expected no quotes or newlines').default('imgate'),
    header_timeout_ms: ms.default(10_000),
    max_header_bytes: count(16_777_216).default(32_768),
    keepalive_timeout_ms: ms.default(30_000),
  })
  .strict()
  .default({});

const user = z
  .object({
    name: str.regex(/^[^:\s]+$/, 'expected a name without ":" or spaces'),
    password_sha256: z
      .string({ invalid_type_error: 'expected a hex string' })
      .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters (SHA-256 of the password)')
      .optional(),
    password: z.string({ invalid_type_error: 'expected a string' }).min(1, 'expected a non-empty string').optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    if ((u.password_sha256 === undefined) === (u.password === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected exactly one of password_sha256 or password' });
    }
  });

const portSpec = z.union([port, z.string().regex(/^\d{1,5}-\d{1,5}$/)], {
  errorMap: () => ({ message: 'expected a port number or a range "a-b"' }),
}).superRefine((v, ctx) => {
  if (typeof v === 'string') {
    const [a, b] = v.split('-').map(Number) as [number, number];
    if (a > 65535 || b > 65535 || a > b) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a range "a-b" with 0 <= a <= b <= 65535' });
    }
  }
});

const destinationRule = z
  .object({
    action: oneOf(['allow', 'deny']),
    hosts: z.array(str).optional(),
    cidrs: z.array(cidr).optional(),
    ports: z.array(portSpec).optional(),
  })
  .strict();

const access = z
  .object({
    clients: z.array(cidr).default(['127.0.0.0/8', '::1/128']),
    destinations: z.array(destinationRule).default([]),
    default_destination: oneOf(['allow', 'deny']).default('allow'),
  })
  .strict()
  .default({});

// IM inspection of tunnels (src/inspect/). Per tunnel: the first bytes are
// probed, then a protocol dissector or a bare pipe takes over.
const inspect = z
  .object({
    enabled: bool.default(true),
    probe_max_bytes: count(65_536).default(512),
    probe_timeout_ms: ms.default(1000),
    max_unit_bytes: count(268_435_456).default(1_048_576),
    starttls: oneOf(['pass', 'strip', 'block']).default('pass'),
    log_text_max: int(0, 1_048_576).default(4096),
    /**
     * Bytes of a scanned tunnel file (DCC/OFT data connection, XMPP IBB,
     * MSN P2P) held back until its AV verdict; 0 = hold nothing (stream and
     * record only). Bounded: each held file keeps up to this much in memory.
     */
    file_hold_back_bytes: int(0, 16 * 1024 * 1024).default(8192),
    /** Relative to the config file's directory; unset = apps.yaml there, else the shipped conf/apps.yaml. */
    apps_file: str.optional(),
  })
  .strict()
  .default({});

// Redirected mode (src/redirect/): listeners that take connections DNS or
// firewall redirection sends to the gateway; the destination comes from the
// client's first bytes, a listener's fixed upstream, or the upstreams map.
const REDIRECT_PROTOCOLS = ['auto', 'xmpp', 'irc', 'msnp', 'oscar', 'ymsg', 'http', 'tls'] as const;
/** Protocols whose first bytes never name the server: only a fixed upstream can. */
export const REDIRECT_FIXED_ONLY: readonly string[] = ['irc', 'msnp', 'oscar', 'ymsg'];
const hostPort = z
  .string({ invalid_type_error: 'expected "host:port"' })
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/, 'expected "host:port" ("[v6]:port" for IPv6)')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'expected a port 0-65535');
const redirectListener = z
  .object({
    listen: z
      .object({
        host: z.string({ invalid_type_error: 'expected an IP address string' }).ip({ message: 'expected an IP address literal' }).default('127.0.0.1'),
        port,
      })
      .strict(),
    protocol: oneOf(REDIRECT_PROTOCOLS).default('auto'),
    upstream: hostPort.optional(),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (REDIRECT_FIXED_ONLY.includes(l.protocol) && l.upstream === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['upstream'], message: `expected an upstream: ${l.protocol} clients do not name their server` });
    }
  });
const redirect = z
  .object({
    listeners: z.array(redirectListener).default([]),
    upstreams: z.record(hostPort).default({}),
    max_head_bytes: count(65_536).default(16_384),
    head_timeout_ms: ms.default(5000),
  })
  .strict()
  .default({});

/**
 * The PostgreSQL record store (src/audit/pg/), for a fleet of gateways writing
 * one store: a connection string (`url`) or host/port/database/user, and the
 * password inline or from a file (relative to the config file).
 */
const auditPostgres = z
  .object({
    url: z
      .string({ invalid_type_error: 'expected a string' })
      .regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// connection string')
      .optional(),
    host: str.optional(),
    port: int(1, 65535).default(5432),
    database: str.default('imgate'),
    user: str.default('imgate'),
    password: str.optional(),
    /** File holding the password (first line); relative to the config file. */
    password_file: str.optional(),
    /** Connections per gateway process (the queue writes on one; CLI and UI read on the rest). */
    pool_max: count(1000).default(10),
    /** Server-side statement_timeout for every statement (0: none). */
    statement_timeout_ms: int(0, 2_147_483_647, 'an integer 0-2147483647 (milliseconds)').default(30_000),
    connect_timeout_ms: ms.default(10_000),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.url !== undefined && p.host !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['host'], message: 'expected at most one of url or host' });
    }
    if (p.password !== undefined && p.password_file !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password_file'], message: 'expected at most one of password or password_file' });
    }
  });

/** The record store (src/audit/): where every decided IM event is kept. */
const audit = z
  .object({
    enabled: bool.default(true),
    /** sqlite: one file under data_dir; postgres: the `postgres` block (a fleet can share it). */
    backend: oneOf(['sqlite', 'postgres']).default('sqlite'),
    postgres: auditPostgres.optional(),
    /** SQLite file, relative to data_dir. */
    db_file: str.default('imgate.db'),
    queue_max: count(10_000_000).default(100_000),
    /** Encoded bytes the queue may hold (large web IM bodies); beyond: dropped like past queue_max. */
    queue_max_bytes: int(1024 * 1024, 16 * 1024 * 1024 * 1024, 'an integer from 1048576 (1 MiB) to 17179869184 (16 GiB)').default(256 * 1024 * 1024),
    batch_max: count(100_000).default(1000),
    flush_interval_ms: int(10, 60_000, 'an integer 10-60000 (milliseconds)').default(200),
    /** 0: keep forever. */
    retention_days: int(0, 36_500).default(180),
    /** Bound on the database pages in use; 0: none. */
    max_db_bytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
    retention_interval_ms: int(60_000, 2_147_483_647, 'an integer >= 60000 (milliseconds)').default(3_600_000),
    files: z
      .object({
        enabled: bool.default(true),
        max_file_bytes: int(0, Number.MAX_SAFE_INTEGER).default(25 * 1024 * 1024),
        max_total_bytes: int(0, Number.MAX_SAFE_INTEGER).default(10 * 1024 * 1024 * 1024),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.backend === 'postgres' && (a.postgres === undefined || (a.postgres.url === undefined && a.postgres.host === undefined))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['postgres'], message: 'backend postgres needs postgres.url or postgres.host' });
    }
  })
  .default({});

/**
 * Admin UI credentials. Neither token nor basic set: a random token is
 * generated into data_dir/admin-token (0600) on first start (src/admin/auth.ts).
 */
const adminAuth = z
  .object({
    /** Bearer token (also accepted as the Basic password, so a browser prompt works). */
    token: str.min(16, 'expected at least 16 characters').optional(),
    /** File holding the token (first line); relative to the config file. */
    token_file: str.optional(),
    basic: z
      .object({
        user: str.regex(/^[^:\s]+$/, 'expected a name without ":" or spaces'),
        password_sha256: z
          .string({ invalid_type_error: 'expected a hex string' })
          .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters (SHA-256 of the password)')
          .optional(),
        /** File holding the password (first line); relative to the config file. */
        password_file: str.optional(),
      })
      .strict()
      .superRefine((b, ctx) => {
        if ((b.password_sha256 === undefined) === (b.password_file === undefined)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected exactly one of password_sha256 or password_file' });
        }
      })
      .optional(),
    realm: str.regex(/^[^"\r\n]*$/, 'expected no quotes or newlines').default('imgate admin'),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.token !== undefined && a.token_file !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected at most one of token or token_file' });
    }
  })
  .default({});

export const configSchema = z
  .object({
    data_dir: str.default('./var'),
    log: z
      .object({ level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .default({}),
    policy_file: str.default('policy.yaml'),
    icap,
    socks5,
    http_proxy: httpProxy,
    users: z.array(user).default([]).superRefine((users, ctx) => {
      const seen = new Set<string>();
      users.forEach((u, i) => {
        if (seen.has(u.name)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'name'], message: 'duplicate user name' });
        }
        seen.add(u.name);
      });
    }),
    access,
    tunnel: z
      .object({ connect_timeout_ms: ms.default(10_000), idle_timeout_ms: ms.default(600_000) })
      .strict()
      .default({}),
    inspect,
    /** AV scanning (src/av/schema.ts): clamd, ICAP chaining, external command. */
    av: avSchema,
    redirect,
    audit,
    admin: z
      .object({
        enabled: bool.default(true),
        listen: listen(9090),
        /** The web UI and /api/* (health, readiness and metrics stay open for scrapers). */
        ui: bool.default(true),
        auth: adminAuth,
      })
      .strict()
      .default({}),
    shutdown: z.object({ drain_timeout_ms: int(0, 3_600_000).default(10_000) }).strict().default({}),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
export type UserEntry = RawConfig['users'][number];
export type DestinationRule = RawConfig['access']['destinations'][number];
