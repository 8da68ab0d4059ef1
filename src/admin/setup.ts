// Builds the admin UI options from the config: resolves the credentials
// (generating the embedded-default token if none are configured) and tells
// the operator where to find them.
import { dirname } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import type { AdminApiDeps } from './api';
import { AdminAuth, resolveAdminAuth } from './auth';
import type { AdminUiOptions } from './ui';

export function adminUiOptions(config: Config, api: AdminApiDeps, logger: Logger): AdminUiOptions | undefined {
  if (!config.admin.ui) return undefined;
  const resolved = resolveAdminAuth(config.admin.auth, {
    configDir: config.configFile ? dirname(config.configFile) : process.cwd(),
    dataDir: config.dataDir,
  });
  const { host, port } = config.admin.listen;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const s = resolved.source;
  if (s.mode === 'generated') {
    logger.info({ door: 'admin', url, token_file: s.path, created: s.created }, 'admin UI: log in with any user name and the token in token_file as the password (or send it as a Bearer token)');
  } else {
    logger.info({ door: 'admin', url, auth: s.mode, ...(s.path ? { token_file: s.path } : {}) }, 'admin UI enabled');
  }
  return { auth: new AdminAuth(resolved), api };
}
