// zod schema of the `av:` config section (mounted by src/config/schema.ts).
// Each scanner is one entry of a list, discriminated by `type`; every knob
// has a default so `scanners: [{ name, type: clamd, port }]` is a full config.
import { z } from 'zod';

const int = (min: number, max: number, what = `an integer ${min}-${max}`) =>
  z
    .number({ invalid_type_error: `expected ${what}`, required_error: `expected ${what}` })
    .int(`expected ${what}`)
    .min(min, `expected ${what}`)
    .max(max, `expected ${what}`);
const ms = int(1, 2_147_483_647, 'a positive integer (milliseconds)');
const bytes = int(1, Number.MAX_SAFE_INTEGER, 'a positive integer (bytes)');
const str = z.string({ invalid_type_error: 'expected a string' }).min(1, 'expected a non-empty string');
const bool = z.boolean({ invalid_type_error: 'expected true or false' });

const breaker = z
  .object({
    /** A scan slower than this counts as a failure (and is abandoned). */
    timeout_ms: ms.default(30_000),
    error_threshold_percentage: int(1, 100).default(50),
    /** How long the breaker stays open before one trial scan. */
    reset_timeout_ms: ms.default(30_000),
    /** Failures needed in the rolling window before the breaker may open. */
    volume_threshold: int(0, 1_000_000).default(3),
    rolling_window_ms: ms.default(10_000),
  })
  .strict()
  .default({});

const common = {
  name: str.regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, "_", "." or "-"'),
  /** What a scan that could not run means: open = let the file through. */
  fail: z.enum(['open', 'closed'], { errorMap: () => ({ message: 'expected open or closed' }) }).default('closed'),
  /** Required scanners gate /readyz. */
  required: bool.default(true),
  breaker,
};

const clamd = z
  .object({
    ...common,
    type: z.literal('clamd'),
    host: z.string().ip({ message: 'expected an IP address literal' }).default('127.0.0.1'),
    port: int(1, 65535).optional(),
    /** Unix socket path (LocalSocket); exclusive with port. */
    socket: str.optional(),
    chunk_bytes: int(1024, 16_777_216).default(65_536),
  })
  .strict();

const icap = z
  .object({
    ...common,
    type: z.literal('icap'),
    /** RESPMOD service of the AV server, e.g. icap://127.0.0.1:1345/avscan */
    url: str.regex(/^icap:\/\/[^/\s]+(\/\S*)?$/, 'expected icap://host:port/service'),
    max_response_header_bytes: int(1024, 1_048_576).default(65_536),
  })
  .strict();

const command = z
  .object({
    ...common,
    type: z.literal('command'),
    /** Executable, run without a shell. Exit 0 = clean, 1 = infected (signature on stdout), else error. */
    command: str,
    /** "{}" is replaced by the file path; without "{}" the path is appended. */
    args: z.array(z.string()).default([]),
    /** Run (no shell) to learn the signature version; stdout, trimmed, is the version. */
    version_command: z.array(str).min(1).optional(),
  })
  .strict();

export const scannerSchema = z.discriminatedUnion('type', [clamd, icap, command]).superRefine((s, ctx) => {
  if (s.type === 'clamd' && (s.port === undefined) === (s.socket === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected exactly one of port or socket' });
  }
});

export const avSchema = z
  .object({
    scanners: z.array(scannerSchema).default([]).superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((s, i) => {
        if (seen.has(s.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'name'], message: 'duplicate scanner name' });
        seen.add(s.name);
      });
    }),
    /** Content up to this size stays in memory; past it, it is spooled under data_dir/av-spool. */
    spool_threshold_bytes: bytes.default(1_048_576),
    /** Larger content is not scanned; `over_limit` says what that means. */
    max_scan_bytes: bytes.default(104_857_600),
    over_limit: z.enum(['allow', 'block'], { errorMap: () => ({ message: 'expected allow or block' }) }).default('block'),
    cache: z
      .object({ max_entries: int(0, 10_000_000).default(10_000), ttl_seconds: int(0, 86_400 * 365).default(3600) })
      .strict()
      .default({}),
    /** How often signature versions (and reachability) are re-read. */
    version_refresh_seconds: int(1, 86_400).default(300),
  })
  .strict()
  .default({});

export type AvConfig = z.infer<typeof avSchema>;
export type ScannerConfig = AvConfig['scanners'][number];
export type ClamdScannerConfig = Extract<ScannerConfig, { type: 'clamd' }>;
export type IcapScannerConfig = Extract<ScannerConfig, { type: 'icap' }>;
export type CommandScannerConfig = Extract<ScannerConfig, { type: 'command' }>;
