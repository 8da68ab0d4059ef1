// Library entry (package.json "main"): embed imgate in another process.
export { startGateway, defaultFactories, type Gateway, type GatewayOptions, type Factories, type ReloadResult, type ListenerName } from './gateway';
export { loadConfig, parseConfig, ConfigError, type Config } from './config';
export { loadPolicy, parsePolicy, computeIstag, PolicyStore, type Policy } from './policy';
export { createLogger, type Logger } from './log';
export type { ImEvent, EventKind, EventDoor, Action, Verdict, Direction } from './events/types';
