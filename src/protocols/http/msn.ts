// The MSN HTTP gateway (gateway.dll): one MsnGatewayInspector per gateway
// session. A session starts with Action=open (no SessionID) and is named by
// the SessionID each response announces in X-MSN-Messenger; requests carry
// the current SessionID. Gateway-made MSNP bytes ride in the next body of
// their direction. The table of sessions is small and bounded.
import { MsnGatewayInspector, parseGatewayUrl, type GatewayResult } from '../msnp';
import type { SessionContext } from '../types';
import { actingContext } from './acting';

const MAX_CHAINS = 32;
const MAX_OWED = 16 * 1024;

export interface MsnChain {
  inspector: MsnGatewayInspector;
  toClient: Buffer[];
  toServer: Buffer[];
  owed: number;
  closed?: string;
  /** Not clean MSNP (a partial command, garbage): bodies of this chain pass unread. */
  unread?: boolean;
  ids: string[];
}

/** The SessionID named by an X-MSN-Messenger response header. */
export function nextSessionId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /(?:^|;)\s*SessionID=([^;\s]{1,256})/i.exec(header);
  return m ? m[1] : undefined;
}

export class MsnGateways {
  private readonly byId = new Map<string, MsnChain>();
  private readonly chains: MsnChain[] = [];

  /** Verdicts that change bytes, counted so a changed body is known to come from policy. */
  private acted = 0;
  private readonly ctx: SessionContext;

  constructor(ctx: SessionContext) {
    this.ctx = actingContext(ctx, () => this.acted++);
  }

  /** Feeds one body; null when the chain is (or just became) unread. */
  private feed(chain: MsnChain, side: 'c2s' | 's2c', body: Buffer): GatewayResult | null {
    if (chain.unread === true) return null;
    const before = this.acted;
    const r = chain.inspector.feed(side, body);
    if (this.acted === before && (r.closed !== undefined || !r.body.equals(body))) {
      // No verdict asked for a change: the body is not whole, clean MSNP.
      chain.unread = true;
      this.ctx.log.info({ side, reason: r.closed ?? 'partial or unknown command' }, 'http: MSN gateway body not inspectable, chain passes unread');
      return null;
    }
    return r;
  }

  /** The chain a gateway request belongs to (a new one for Action=open or an unknown id). */
  chainFor(target: string): MsnChain {
    const url = parseGatewayUrl(target);
    const id = url?.sessionId;
    const known = id !== undefined ? this.byId.get(id) : undefined;
    if (known !== undefined) return known;
    const chain: MsnChain = { inspector: new MsnGatewayInspector(this.ctx), toClient: [], toServer: [], owed: 0, ids: [] };
    if (this.chains.length >= MAX_CHAINS) {
      const old = this.chains.shift() as MsnChain;
      for (const k of old.ids) this.byId.delete(k);
      old.inspector.dispose();
    }
    this.chains.push(chain);
    if (id !== undefined) this.name(chain, id);
    return chain;
  }

  /** The tunnel is gone: every chain's MSNP session releases its file sinks. */
  dispose(): void {
    for (const c of this.chains) c.inspector.dispose();
    this.chains.length = 0;
    this.byId.clear();
  }

  /** A response named the chain's next SessionID. */
  name(chain: MsnChain, id: string): void {
    if (this.byId.get(id) === chain) return;
    this.byId.set(id, chain);
    chain.ids.push(id);
    if (chain.ids.length > 4) this.byId.delete(chain.ids.shift() as string);
  }

  /** A request body: what to send to the server (null: unchanged). */
  request(chain: MsnChain, body: Buffer): Buffer | null {
    const r = this.feed(chain, 'c2s', body);
    if (r === null) return null;
    this.owe(chain, 'toClient', r.toClient);
    const prefix = chain.toServer;
    chain.toServer = [];
    this.owe(chain, 'toServer', r.toServer);
    if (r.closed !== undefined) chain.closed = r.closed;
    if (prefix.length === 0 && r.body.equals(body)) return null;
    return Buffer.concat([...prefix, r.body]);
  }

  /** A response body: what to send to the client (null: unchanged). */
  response(chain: MsnChain, body: Buffer): Buffer | null {
    const r = this.feed(chain, 's2c', body);
    if (r === null) return null;
    this.owe(chain, 'toServer', r.toServer);
    const owed = chain.toClient;
    chain.toClient = [];
    chain.owed = 0;
    owed.push(r.toClient);
    const extra = Buffer.concat(owed);
    if (extra.length === 0 && r.body.equals(body)) return null;
    return Buffer.concat([r.body, extra]);
  }

  private owe(chain: MsnChain, to: 'toClient' | 'toServer', b: Buffer): void {
    if (b.length === 0 || chain.owed + b.length > MAX_OWED) return;
    chain[to].push(b);
    chain.owed += b.length;
  }
}
