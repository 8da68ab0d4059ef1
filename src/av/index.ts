// Public entry of the AV hooks: the factory both doors use.
import type { Logger } from '../log';
import type { Metrics } from '../admin/metrics';
import type { AvConfig } from './schema';
import { AvServiceImpl } from './service';
import type { AvService } from './types';

export type { AvConfig, ScannerConfig } from './schema';
export { avSchema } from './schema';
export type { AvService, ScanOutcome, ScanRequest, ScanResult } from './types';
export { AvServiceImpl } from './service';

/**
 * A service over the configured scanners. With no scanners, `enabled` is
 * false and scan() drains the content and answers clean.
 * `onVersions` (optional) is told when signature versions change (ISTag).
 */
export function createAvService(
  cfg: AvConfig,
  deps: { logger: Logger; metrics?: Metrics; dataDir: string; onVersions?: (versions: readonly string[]) => void },
): AvService {
  return new AvServiceImpl(cfg, deps);
}
