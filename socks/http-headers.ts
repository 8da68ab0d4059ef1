// Header rewriting for forwarded requests/responses (RFC 9110 §7.6.1) and
// Basic proxy credentials. Works on Node's flat rawHeaders arrays so names
// keep their case and order.

/** Always hop-by-hop, whatever Connection says. Lowercase. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

export const VIA_VALUE = '1.1 imgate';

/**
 * Copy `raw` (flat [name, value, ...]) without hop-by-hop headers, the
 * headers named by Connection, and `drop` (lowercase names), then append
 * `extra` pairs.
 */
export function forwardHeaders(raw: readonly string[], drop: ReadonlySet<string>, extra: readonly string[]): string[] {
  let named: Set<string> | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'connection' || name === 'proxy-connection') {
      for (const token of (raw[i + 1] as string).split(',')) {
        const t = token.trim().toLowerCase();
        if (t !== '') (named ??= new Set()).add(t);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || drop.has(name) || (named !== null && named.has(name))) continue;
    out.push(raw[i] as string, raw[i + 1] as string);
  }
  for (const e of extra) out.push(e);
  return out;
}

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** "Basic base64(user:pass)" -> credentials, or null when absent/malformed. */
export function parseBasic(header: string | undefined): { user: string; password: string } | null {
  if (header === undefined) return null;
  const m = /^\s*basic\s+(\S+)\s*$/i.exec(header);
  if (!m) return null;
  const b64 = m[1] as string;
  if (b64.length > 4096 || !BASE64_RE.test(b64)) return null;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
