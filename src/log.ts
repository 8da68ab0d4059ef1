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
  return destination ? pino(opts, destination) : pino(opts);
}

/** Child logger with the correlation fields set once (pino serialises bindings once per child). */
export function withContext(logger: Logger, ctx: LogContext): Logger {
  return logger.child(ctx);
}
