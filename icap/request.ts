// The IcapRequest handed to services. The body stream is created lazily:
// handlers that never touch it cost no stream at all.
import type { Readable } from 'node:stream';
import { clientInfo } from './client-info';
import { splitIcapUri } from './icap-head';
import type { ParsedRequest } from './parser';
import type { AdaptMethod, HttpHead, IcapClientInfo, IcapRequest } from './types';

export class IcapRequestImpl implements IcapRequest {
  readonly uri: string;
  readonly servicePath: string;
  readonly query: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly httpRequest: HttpHead | undefined;
  readonly httpResponse: HttpHead | undefined;
  readonly hasBody: boolean;
  readonly preview: number | null;
  readonly allow204: boolean;
  private clientCache: IcapClientInfo | undefined;

  constructor(
    readonly id: string,
    readonly connectionId: string,
    readonly method: AdaptMethod,
    parsed: ParsedRequest,
    readonly remoteAddress: string,
    readonly remotePort: number,
    private readonly openBody: () => Readable,
  ) {
    this.uri = parsed.head.uri;
    const { path, query } = splitIcapUri(this.uri);
    this.servicePath = path;
    this.query = query;
    this.headers = parsed.head.headers;
    this.httpRequest = parsed.httpRequest;
    this.httpResponse = parsed.httpResponse;
    this.hasBody = parsed.hasBody;
    this.preview = parsed.preview;
    this.allow204 = allows204(parsed.head.headers.get('allow'));
  }

  get body(): Readable | null {
    return this.hasBody ? this.openBody() : null;
  }

  get client(): IcapClientInfo {
    if (this.clientCache === undefined) this.clientCache = clientInfo(this.headers);
    return this.clientCache;
  }
}

function allows204(allow: string | undefined): boolean {
  if (allow === undefined) return false;
  for (const v of allow.split(',')) if (v.trim() === '204') return true;
  return false;
}
