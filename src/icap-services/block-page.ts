// The HTTP 403 answer for a blocked request or response: HTML for browsers,
// JSON for API clients that prefer it (by Accept q-values).
import type { HeaderList, HttpHeadOut } from '../../icap/types';

export interface BlockInfo {
  rule: string;
  reference: string;
  url?: string;
}

/** q-value the Accept header gives a media type (exact beats type/* beats *\/*). */
function qualityOf(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = -1;
  let bestSpecificity = -1;
  for (const part of accept.split(',')) {
    const [rangeRaw, ...params] = part.split(';');
    const range = (rangeRaw ?? '').trim().toLowerCase();
    let specificity: number;
    if (range === type) specificity = 2;
    else if (range === `${major}/*`) specificity = 1;
    else if (range === '*/*') specificity = 0;
    else continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Math.min(1, Math.max(0, Number(m[1]) || 0));
    }
    if (specificity > bestSpecificity) {
      bestSpecificity = specificity;
      best = q;
    }
  }
  return best < 0 ? 0 : best;
}

export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const a = accept.length > 2048 ? accept.slice(0, 2048) : accept;
  return qualityOf(a, 'application/json') > qualityOf(a, 'text/html');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

export function blockResponse(info: BlockInfo, accept: string | undefined): { head: HttpHeadOut; body: Buffer } {
  let body: Buffer;
  let type: string;
  if (prefersJson(accept)) {
    body = Buffer.from(JSON.stringify({ error: 'blocked by imgate', rule: info.rule, reference: info.reference }));
    type = 'application/json';
  } else {
    const url = info.url ? `<p>Address: <code>${escapeHtml(info.url.length > 300 ? `${info.url.slice(0, 300)}...` : info.url)}</code></p>` : '';
    body = Buffer.from(
      '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Blocked by imgate</title></head>\n' +
        '<body><h1>Blocked by imgate</h1>\n<p>This request was blocked by your organisation\'s messaging policy.</p>\n' +
        `${url}<p>Rule: <code>${escapeHtml(info.rule)}</code></p>\n<p>Reference: <code>${escapeHtml(info.reference)}</code></p>\n` +
        '<p>Quote the reference when contacting your administrator.</p></body></html>\n',
    );
    type = 'text/html; charset=utf-8';
  }
  const headers: HeaderList = [
    ['Content-Type', type],
    ['Content-Length', String(body.length)],
    ['Cache-Control', 'no-store'],
    ['X-Imgate-Rule', info.rule],
    ['X-Imgate-Reference', info.reference],
    ['Connection', 'close'],
  ];
  return { head: { startLine: 'HTTP/1.1 403 Forbidden', headers }, body };
}
