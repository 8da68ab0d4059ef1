// imgate command line: start | check-config | replay | search | files |
// report | export | --version. Exit codes: 0 ok,
// 1 runtime/startup failure (e.g. port in use), 2 invalid config or policy.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { ConfigError } from '../config/errors';
import { loadConfig, type Config } from '../config/load';
import { startGateway, type Gateway } from '../gateway';
import { createLogger } from '../log';
import { loadPolicy } from '../policy/load';
import { computeIstag } from '../policy/istag';
import { modules as protocolModules } from '../protocols/registry';
import { runReplay } from '../replay/cli';
import { CliError, runExport, runFiles, runReport, runSearch, type Io } from '../audit/cli';
import { checkAdminSecrets } from '../admin/auth';

function version(): string {
  // dist/src/cli -> package root is three levels up; src/cli (ts-jest) two.
  for (const rel of ['../../../package.json', '../../package.json']) {
    const p = join(__dirname, rel);
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'imgate' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

interface FileOpts {
  config?: string;
  policy?: string;
}

/** --config FILE, else ./conf/imgate.yaml when present, else the embedded defaults. */
function readConfig(o: FileOpts): Config {
  const path = o.config ?? (existsSync('conf/imgate.yaml') ? 'conf/imgate.yaml' : undefined);
  return loadConfig(path, o.policy ? { policyOverride: o.policy } : {});
}

function printProblems(err: unknown): void {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`${err.file ?? 'config'}: ${p}\n`);
  } else {
    process.stderr.write(`imgate: ${(err as Error).message}\n`);
  }
}

function checkConfig(o: FileOpts): void {
  const problems: unknown[] = [];
  let config: Config | null = null;
  try {
    config = readConfig(o);
  } catch (err) {
    problems.push(err);
  }
  let summary = '';
  if (config) {
    try {
      const policy = loadPolicy(config.policyPath, config.policyExplicit);
      if (config.admin.enabled && config.admin.ui) checkAdminSecrets(config.admin.auth, config.configFile ? dirname(config.configFile) : process.cwd());
      const doors = [
        config.icap.enabled ? `icap ${config.icap.listen.host}:${config.icap.listen.port}` : null,
        config.socks5.enabled ? `socks5 ${config.socks5.listen.host}:${config.socks5.listen.port}` : null,
        config.http_proxy.enabled ? `http ${config.http_proxy.listen.host}:${config.http_proxy.listen.port}` : null,
        config.admin.enabled ? `admin ${config.admin.listen.host}:${config.admin.listen.port}` : null,
      ].filter((d): d is string => d !== null);
      summary =
        `${config.configFile ?? '(embedded defaults)'}; doors: ${doors.join(', ') || 'none'}; ` +
        `policy ${policy.file ?? '(default)'}: ${policy.doc.rules.length} rules, default ${policy.doc.default}; ` +
        `users: ${config.users.length}; ISTag ${computeIstag(policy.hash)}`;
    } catch (err) {
      problems.push(err);
    }
  }
  if (problems.length > 0) {
    problems.forEach(printProblems);
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`config OK: ${summary}\n`);
}

async function start(o: FileOpts): Promise<void> {
  let config: Config;
  try {
    config = readConfig(o);
  } catch (err) {
    printProblems(err);
    process.exit(2);
  }
  const logger = createLogger(config.log.level);
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (err) {
    process.stderr.write(`imgate: cannot create data_dir ${config.dataDir}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let gw: Gateway;
  try {
    gw = await startGateway(config, { logger, ...(o.policy ? { policyOverride: o.policy } : {}) });
  } catch (err) {
    printProblems(err);
    logger.fatal({ err: (err as Error).message }, 'startup failed');
    process.exit(err instanceof ConfigError ? 2 : 1);
  }

  // A bug must not take the process down silently: log it with context. An
  // uncaught exception leaves state unknown, so exit (a supervisor restarts);
  // a stray rejection is logged and the gateway keeps serving.
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: err.message, stack: err.stack }, 'uncaught exception: exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    const e = reason instanceof Error ? reason : new Error(String(reason));
    logger.error({ err: e.message, stack: e.stack }, 'unhandled promise rejection');
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const ms = gw.config().shutdown.drain_timeout_ms;
    // Backstop in case something refuses to close.
    setTimeout(() => process.exit(0), ms + 5_000).unref();
    gw.drain(ms).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'drain failed');
        process.exit(0);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    gw.reload().catch((err: unknown) => {
      const problems = err instanceof ConfigError ? err.problems.map((p) => `${err.file ?? 'config'}: ${p}`) : [(err as Error).message];
      logger.error({ problems }, 'reload failed: keeping the running config and policy');
    });
  });
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name('imgate').description('Instant-messaging security gateway').version(version(), '-V, --version');
  program
    .command('start')
    .description('start every enabled listener (ICAP, SOCKS5, HTTP proxy, admin)')
    .option('-c, --config <file>', 'config file (default: ./conf/imgate.yaml if present, else embedded defaults)')
    .option('-p, --policy <file>', 'policy file (overrides policy_file)')
    .action((o: FileOpts) => start(o));
  program
    .command('check-config')
    .description('validate the config and policy files, then exit (0 ok, 2 invalid)')
    .option('-c, --config <file>', 'config file (default: ./conf/imgate.yaml if present, else embedded defaults)')
    .option('-p, --policy <file>', 'policy file (overrides policy_file)')
    .action((o: FileOpts) => checkConfig(o));
  program
    .command('replay')
    .description('replay a pcap/pcapng capture through the protocol dissectors; one JSON line per IM event')
    .argument('<file>', 'capture file (.pcap or .pcapng)')
    .option('-p, --policy <file>', 'decide each event with this policy file (default: allow everything)')
    .option('--connections', 'also print one JSON line per TCP connection')
    .option('--apps <file>', 'TLS application catalogue (default: the shipped conf/apps.yaml)')
    .action(async (file: string, o: { policy?: string; connections?: boolean; apps?: string }) => {
      // `imgate replay x.pcap | head`: a closed pipe ends the run quietly.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      process.exitCode = await runReplay(file, o, protocolModules, {
        out: (l) => process.stdout.write(`${l}\n`),
        err: (l) => process.stderr.write(`${l}\n`),
      });
    });
  addAuditCommands(program);
  await program.parseAsync(argv);
}

/** Record store views (src/audit/cli.ts); exit 1 when there is no store, 2 on bad arguments. */
function addAuditCommands(program: Command): void {
  const io: Io = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };
  const run = async (o: FileOpts, f: (c: Config) => unknown): Promise<void> => {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
    let config: Config;
    try {
      config = readConfig(o);
    } catch (err) {
      printProblems(err);
      process.exitCode = 2;
      return;
    }
    try {
      await f(config);
    } catch (err) {
      process.stderr.write(`imgate: ${(err as Error).message}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  };
  const cfg = '-c, --config <file>';
  const cfgHelp = 'config file naming data_dir (default: ./conf/imgate.yaml if present)';
  program
    .command('search')
    .description('full-text search of recorded IM events (words are matched literally, all of them)')
    .argument('[text]', 'words to find in message text (empty: every event)', '')
    .option(cfg, cfgHelp)
    .option('--user <name>', 'authenticated proxy user')
    .option('--account <id>', 'IM account (sender or peer)')
    .option('--protocol <p>', 'protocol or app (irc, xmpp, slack...)')
    .option('--since <time>', 'ISO time or relative (30m, 2h, 7d)')
    .option('--until <time>', 'ISO time or relative')
    .option('--limit <n>', 'at most N events, newest first (default 100)')
    .option('--json', 'one JSON object per line')
    .action((text: string, o: FileOpts & Parameters<typeof runSearch>[2]) => run(o, (c) => runSearch(c, text, o, io)));
  program
    .command('files')
    .description('transferred files seen (name, size, sha256, verdict, archive path)')
    .option(cfg, cfgHelp)
    .option('--since <time>', 'ISO time or relative (30m, 2h, 7d)')
    .option('--until <time>', 'ISO time or relative')
    .option('--name <glob>', 'file name glob, e.g. "*.pdf"')
    .option('--limit <n>', 'at most N files (default 1000)')
    .option('--json', 'one JSON object per line')
    .action((o: FileOpts & Parameters<typeof runFiles>[1]) => run(o, (c) => runFiles(c, o, io)));
  program
    .command('report')
    .description('usage per user and per protocol/app: messages, files, blocks, top peers')
    .option(cfg, cfgHelp)
    .option('--since <time>', 'ISO time or relative (30m, 2h, 7d)')
    .option('--until <time>', 'ISO time or relative')
    .option('--top <n>', 'top peers per line (default 3)')
    .option('--json', 'one JSON document')
    .action((o: FileOpts & Parameters<typeof runReport>[1]) => run(o, (c) => runReport(c, o, io)));
  program
    .command('export')
    .description('recorded events as JSON lines (stdout) or RFC 5424 syslog (stdout, or --syslog udp://|tcp://HOST:PORT)')
    .option(cfg, cfgHelp)
    .option('--since <time>', 'ISO time or relative (30m, 2h, 7d)')
    .option('--until <time>', 'ISO time or relative')
    .option('--format <f>', 'jsonl | syslog (default jsonl, or syslog with --syslog)')
    .option('--syslog <url>', 'send to a syslog receiver: udp://127.0.0.1:514 or tcp://127.0.0.1:6514 (octet counting)')
    .action((o: FileOpts & Parameters<typeof runExport>[1]) =>
      run(o, async (c) => {
        const n = await runExport(c, o, io);
        if (o.syslog !== undefined) process.stderr.write(`imgate: ${n} event(s) sent to ${o.syslog}\n`);
      }),
    );
}
