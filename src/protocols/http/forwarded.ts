// IM carried by absolute-URI requests that the HTTP proxy door forwards one
// by one (Squid with `cache_peer ... parent` hands port-80 traffic this way).
// There is no connection to follow: each exchange is looked at alone, and
// the IM session state lives in bounded tables keyed by what the protocol
// itself names — the BOSH `sid` (XEP-0124), the MSN gateway SessionID and
// the YMSG session id of Yahoo's HTTP mode —
// so a login seen in one request gives the account of the next one, and a
// gateway answer owed to the client rides in a later response of the same
// IM session, exactly as inside a tunnel (see session.ts).
import { ParsedHttpHead } from '../../../icap/http-head';
import type { HeaderList } from '../../../icap/types';
import type { SessionContext } from '../types';
import { BoshInspector } from './bosh';
import { boundedTable, type BoundedTable } from '../../util/lru';
import { classifyRequest } from './classify';
import { pathOf } from './framing';
import { MsnGateways, nextSessionId, type MsnChain } from './msn';
import { withApp } from './session';
import { YahooGateways, type YahooChain } from './yahoo';

/** Node's header object shape (lower-case names). */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** One forwarded exchange's IM view: hold, inspect and maybe rewrite whole bodies. */
export interface ForwardedExchange {
  readonly holdRequest: boolean;
  request(body: Buffer): Buffer;
  holdResponse(status: number, headers: HeaderMap): boolean;
  response(body: Buffer): Buffer;
}

export interface ForwardedLimits {
  /** BOSH sessions remembered (least recently used goes first). */
  maxBoshSessions: number;
  /** Destinations whose MSN gateway chains are remembered. */
  maxMsnOrigins: number;
  /** Destinations whose Yahoo HTTP chains are remembered (default: as many as MSN's). */
  maxYahooOrigins?: number;
}

const DEFAULT_LIMITS: ForwardedLimits = { maxBoshSessions: 4096, maxMsnOrigins: 256 };
const SID_RE = /<body\b[^>]*?\ssid\s*=\s*(['"])([^'"]{1,128})\1/;

/** The BOSH sid a body names (requests carry it; the session-creation response announces it). */
export function boshSid(body: Buffer): string | undefined {
  const m = SID_RE.exec(body.toString('latin1', 0, Math.min(body.length, 1024)));
  return m ? m[2] : undefined;
}

function headList(headers: HeaderMap): HeaderList {
  const out: HeaderList = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out.push([k, Array.isArray(v) ? v.join(', ') : v]);
  }
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The IM state of every forwarded exchange. `ctx` is the caller's context,
 * pointed at the current request's facts before each call (calls are
 * synchronous, so events carry the request that carried them).
 */
export class ForwardedIm {
  private readonly bosh: BoundedTable<BoshInspector>;
  private readonly msn: BoundedTable<MsnGateways>;
  private readonly yahoo: BoundedTable<YahooGateways>;

  constructor(
    private readonly ctx: SessionContext,
    limits: ForwardedLimits = DEFAULT_LIMITS,
  ) {
    this.bosh = boundedTable({ max: limits.maxBoshSessions });
    this.msn = boundedTable({ max: limits.maxMsnOrigins });
    this.yahoo = boundedTable({ max: limits.maxYahooOrigins ?? limits.maxMsnOrigins });
  }

  get boshSessions(): number {
    return this.bosh.size;
  }

  /** The exchange's IM view, or undefined when the request is not IM (it streams untouched). */
  exchange(method: string, path: string, headers: HeaderMap): ForwardedExchange | undefined {
    const head = new ParsedHttpHead(`${method} ${path} HTTP/1.1`, headList(headers));
    const kind = classifyRequest(method, path, head);
    const origin = `${this.ctx.destination.host}:${this.ctx.destination.port}`;
    if (kind === 'bosh' || kind === 'bosh?') return method === 'POST' ? this.boshExchange(origin) : undefined;
    if (kind === 'msn') return this.msnExchange(origin, path);
    if (kind === 'yahoo') return this.yahooExchange(origin);
    return undefined;
  }

  private boshExchange(origin: string): ForwardedExchange {
    const table = this.bosh;
    const ctx = this.ctx;
    let inspector: BoshInspector | null = null;
    let isBosh = false;
    return {
      holdRequest: true,
      request(body: Buffer): Buffer {
        const sid = boshSid(body);
        inspector = (sid !== undefined ? table.get(`${origin}|${sid}`) : undefined) ?? null;
        // A request without a known sid opens a session (its response names the sid).
        const fresh = inspector === null;
        const insp = inspector ?? new BoshInspector(withApp(ctx, 'bosh'));
        inspector = insp;
        const r = insp.body('c2s', body);
        if (r === 'not-bosh') return body;
        isBosh = true;
        if (fresh && sid !== undefined) table.set(`${origin}|${sid}`, insp);
        return r ?? body;
      },
      holdResponse: () => isBosh,
      response(body: Buffer): Buffer {
        const insp = inspector as BoshInspector;
        const sid = boshSid(body);
        if (sid !== undefined && table.get(`${origin}|${sid}`) === undefined) table.set(`${origin}|${sid}`, insp);
        const r = insp.body('s2c', body);
        return r === 'not-bosh' || r === null ? body : r;
      },
    };
  }

  private msnExchange(origin: string, path: string): ForwardedExchange {
    let gw = this.msn.get(origin);
    if (gw === undefined) {
      gw = new MsnGateways(withApp(this.ctx, 'msn-http'));
      this.msn.set(origin, gw);
    }
    const gateways = gw;
    const chain: MsnChain = gateways.chainFor(pathOf(path));
    return {
      holdRequest: true,
      request: (body) => gateways.request(chain, body) ?? body,
      holdResponse(status, headers) {
        const next = nextSessionId(first(headers['x-msn-messenger']));
        if (next !== undefined) gateways.name(chain, next);
        return status === 200;
      },
      response: (body) => gateways.response(chain, body) ?? body,
    };
  }

  private yahooExchange(origin: string): ForwardedExchange {
    let gw = this.yahoo.get(origin);
    if (gw === undefined) {
      gw = new YahooGateways(withApp(this.ctx, 'yahoo-http'));
      this.yahoo.set(origin, gw);
    }
    const gateways = gw;
    // The chain is named by the YMSG session id inside the request body.
    let chain: YahooChain | null = null;
    return {
      holdRequest: true,
      request(body) {
        if (body.length === 0) return body;
        chain = gateways.chainFor(body);
        return gateways.request(chain, body) ?? body;
      },
      holdResponse: (status) => status === 200,
      response(body) {
        chain ??= gateways.chainFor(body, 4);
        return gateways.response(chain, body) ?? body;
      },
    };
  }
}
