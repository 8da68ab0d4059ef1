// pino JSON logging to stdout. Child loggers carry the correlation fields
// every line needs: conn (connection id), client, user, door.
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LogContext {
  conn?: string;
  client?: string;
  user?: string;
  door?: string;
  protocol?: string;
}

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  const opts: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Labels instead of numbers so operators can grep "level":"warn".
    formatters: { level: (label) => ({ level: label }) },
  };
  // stdout asynchronously: one 'im event' line per IM action (and per unknown
  // tunnel) is on the hot path, and a synchronous write(2) per line cost ~5%
  // of CPU at 1,800 tunnels/s (docs/benchmarks.md). sonic-boom batches lines
  // while a write is in flight; pino flushes it synchronously on process exit.
  return pino(opts, destination ?? pino.destination({ dest: 1, sync: false }));
}

/** Child logger with the correlation fields set once (pino serialises bindings once per child). */
export function withContext(logger: Logger, ctx: LogContext): Logger {
  return logger.child(ctx);
}
