export { loadConfig, parseConfig, parseYaml, readSmallFile, MAX_CONFIG_BYTES, type Config, type LoadOptions } from './load';
export { ConfigError, formatIssues, formatPath } from './errors';
export { configSchema, type RawConfig, type UserEntry, type DestinationRule } from './schema';
export { UserDb } from './users';
