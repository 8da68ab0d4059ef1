// access.destinations: ordered allow/deny rules over the destination a client
// asks for, first match wins, `default_destination` otherwise. CIDR rules only
// match IP-literal destinations: names are not resolved here (that would be a
// DNS lookup per request, and the answer could differ from the one dial gets).
import type { DestinationRule } from '../config/schema';
import type { Destination } from '../../socks/types';
import { CidrList } from '../util/cidr';
import { compileGlobs, type Matcher } from '../util/glob';

interface CompiledDestRule {
  allow: boolean;
  hosts: Matcher | null;
  cidrs: CidrList | null;
  ports: Array<[number, number]> | null;
}

export class DestinationRules {
  private readonly rules: CompiledDestRule[];
  private readonly defaultAllow: boolean;

  constructor(rules: readonly DestinationRule[], defaultAction: 'allow' | 'deny') {
    this.defaultAllow = defaultAction === 'allow';
    this.rules = rules.map((r) => ({
      allow: r.action === 'allow',
      hosts: r.hosts && r.hosts.length > 0 ? compileGlobs(r.hosts) : null,
      cidrs: r.cidrs && r.cidrs.length > 0 ? new CidrList(r.cidrs) : null,
      ports:
        r.ports && r.ports.length > 0
          ? r.ports.map((p): [number, number] => {
              if (typeof p === 'number') return [p, p];
              const [a, b] = p.split('-').map(Number) as [number, number];
              return [a, b];
            })
          : null,
    }));
  }

  allows(dest: Destination): boolean {
    for (const r of this.rules) {
      if (r.ports && !r.ports.some(([a, b]) => dest.port >= a && dest.port <= b)) continue;
      // hosts and cidrs are alternatives: a rule with both matches either.
      if (r.hosts || r.cidrs) {
        const hostHit = r.hosts !== null && r.hosts(dest.host);
        const cidrHit = r.cidrs !== null && dest.type !== 'domain' && r.cidrs.matches(dest.host);
        if (!hostHit && !cidrHit) continue;
      }
      return r.allow;
    }
    return this.defaultAllow;
  }
}
