// ICAP ISTag (RFC 3507 §4.7): changes whenever a verdict could change, so
// Squid drops cached adaptations. Inputs: the policy hash and the scanner
// signature versions (no scanners yet).
import { createHash } from 'node:crypto';

export function computeIstag(policyHash: string, scannerVersions: readonly string[] = []): string {
  const h = createHash('sha256').update(policyHash);
  for (const v of scannerVersions) h.update('\n').update(v);
  return `IMG-${h.digest('hex').slice(0, 16)}`;
}
