// Yahoo! Messenger's HTTP mode (POST /notify/, see src/protocols/ymsg/http.ts
// for what the sources say about it): request bodies are YMSG packets,
// response bodies a 4-byte prefix and YMSG packets. One YmsgHttpInspector per
// chain, the chain named by the YMSG session id its packets carry (0 until
// the server's first answer assigns one). Gateway-made packets for the
// client ride in the next response body. A body that is not whole, clean
// YMSG makes its chain pass unread. The table of chains is small and bounded.
import { YmsgHttpInspector, firstSessionId, joinNotifyResponse, splitNotifyResponse, type YahooHttpResult } from '../ymsg/http';
import type { SessionContext, Side } from '../types';
import { actingContext } from './acting';

const MAX_CHAINS = 32;
const MAX_OWED = 16 * 1024;

export interface YahooChain {
  inspector: YmsgHttpInspector;
  toClient: Buffer[];
  owed: number;
  closed?: string;
  /** Not clean YMSG (a cut packet, garbage): bodies of this chain pass unread. */
  unread?: boolean;
  ids: number[];
}

export class YahooGateways {
  private readonly byId = new Map<number, YahooChain>();
  private readonly chains: YahooChain[] = [];
  /** Verdicts that change bytes, counted so a changed body is known to come from policy. */
  private acted = 0;
  private readonly ctx: SessionContext;

  constructor(ctx: SessionContext) {
    this.ctx = actingContext(ctx, () => this.acted++);
  }

  /**
   * The chain a body belongs to, by the session id of its first packet (at
   * `at`: 4 in a response): a new one for 0 or an unknown id.
   */
  chainFor(body: Buffer, at = 0): YahooChain {
    const id = firstSessionId(body, at);
    const known = id !== undefined && id !== 0 ? this.byId.get(id) : undefined;
    if (known !== undefined) return known;
    const chain: YahooChain = { inspector: new YmsgHttpInspector(this.ctx), toClient: [], owed: 0, ids: [] };
    if (this.chains.length >= MAX_CHAINS) {
      const old = this.chains.shift() as YahooChain;
      for (const k of old.ids) this.byId.delete(k);
      old.inspector.dispose();
    }
    this.chains.push(chain);
    if (id !== undefined && id !== 0) this.name(chain, id);
    return chain;
  }

  /** The tunnel is gone: every chain's YMSG session releases what it holds. */
  dispose(): void {
    for (const c of this.chains) c.inspector.dispose();
    this.chains.length = 0;
    this.byId.clear();
  }

  private name(chain: YahooChain, id: number): void {
    if (this.byId.get(id) === chain) return;
    this.byId.set(id, chain);
    chain.ids.push(id);
    if (chain.ids.length > 4) this.byId.delete(chain.ids.shift() as number);
  }

  /** Feeds packets; null when the chain is (or just became) unread. */
  private feed(chain: YahooChain, side: Side, packets: Buffer): YahooHttpResult | null {
    if (chain.unread === true) return null;
    const before = this.acted;
    const r = chain.inspector.feed(side, packets);
    if (this.acted === before && (r.closed !== undefined || !r.packets.equals(packets))) {
      // No verdict asked for a change: the body is not whole, clean YMSG.
      chain.unread = true;
      this.ctx.log.info({ side, reason: r.closed ?? 'partial packet' }, 'http: Yahoo HTTP body not inspectable, chain passes unread');
      return null;
    }
    if (r.closed !== undefined) chain.closed = r.closed;
    return r;
  }

  /** A request body: what to send to the server (null: unchanged). */
  request(chain: YahooChain, body: Buffer): Buffer | null {
    const r = this.feed(chain, 'c2s', body);
    if (r === null) return null;
    this.owe(chain, r.toClient);
    return r.packets.equals(body) ? null : r.packets;
  }

  /** A response body: what to send to the client (null: unchanged). */
  response(chain: YahooChain, body: Buffer): Buffer | null {
    if (chain.unread === true) return null;
    const split = splitNotifyResponse(body);
    if (typeof split === 'string') {
      chain.unread = true;
      this.ctx.log.info({ reason: split }, 'http: Yahoo HTTP body not inspectable, chain passes unread');
      return null;
    }
    const id = firstSessionId(split.packets);
    if (id !== undefined && id !== 0) this.name(chain, id);
    const r = this.feed(chain, 's2c', split.packets);
    if (r === null) return null;
    const owed = chain.toClient;
    chain.toClient = [];
    chain.owed = 0;
    if (r.toClient.length > 0) owed.push(r.toClient);
    if (owed.length === 0 && r.packets.equals(split.packets)) return null;
    return joinNotifyResponse(split, owed.length === 0 ? r.packets : Buffer.concat([r.packets, ...owed]));
  }

  private owe(chain: YahooChain, b: Buffer): void {
    if (b.length === 0 || chain.owed + b.length > MAX_OWED) return;
    chain.toClient.push(b);
    chain.owed += b.length;
  }
}
