// What a blocked web IM request gets back: the app's own error shape for API
// calls (so the client shows an error instead of retrying or crashing), the
// HTML block page for browsers navigating, BOSH's terminate body for XMPP.
import type { HeaderList, HttpHeadOut } from '../../icap/types';
import { blockResponse, prefersJson } from '../icap-services/block-page';
import type { ErrorShape } from './catalog';

export interface WebBlockInfo {
  rule: string;
  reference: string;
  url?: string;
  /** Why, for the message text (e.g. "message text", "file report.pdf: Eicar-Test"). */
  what?: string;
}

function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /text\/html/i.test(accept) && !prefersJson(accept);
}

function json(status: string, obj: unknown, info: WebBlockInfo): { head: HttpHeadOut; body: Buffer } {
  const body = Buffer.from(JSON.stringify(obj));
  return { head: { startLine: `HTTP/1.1 ${status}`, headers: headers('application/json; charset=utf-8', body, info) }, body };
}

function headers(type: string, body: Buffer, info: WebBlockInfo): HeaderList {
  return [
    ['Content-Type', type],
    ['Content-Length', String(body.length)],
    ['Cache-Control', 'no-store'],
    ['X-Imgate-Rule', info.rule],
    ['X-Imgate-Reference', info.reference],
  ];
}

export function webBlockResponse(shape: ErrorShape, info: WebBlockInfo, accept: string | undefined): { head: HttpHeadOut; body: Buffer } {
  const text = `Blocked by imgate${info.what ? ` (${info.what})` : ''}: rule ${info.rule}, reference ${info.reference}`;
  if (shape === 'bosh') {
    const body = Buffer.from("<body type='terminate' condition='policy-violation' xmlns='http://jabber.org/protocol/httpbind'/>");
    return { head: { startLine: 'HTTP/1.1 200 OK', headers: headers('text/xml; charset=utf-8', body, info) }, body };
  }
  if (wantsHtml(accept)) {
    const page = blockResponse({ rule: info.rule, reference: info.reference, url: info.url }, accept);
    return page;
  }
  switch (shape) {
    case 'slack':
      // Slack's Web API reports every failure as 200 + ok:false.
      return json('200 OK', { ok: false, error: 'blocked_by_imgate', imgate_rule: info.rule, imgate_reference: info.reference }, info);
    case 'matrix':
      return json('403 Forbidden', { errcode: 'M_FORBIDDEN', error: text }, info);
    case 'discord':
      return json('403 Forbidden', { message: text, code: 50013 }, info);
    case 'mattermost':
      return json('403 Forbidden', { id: 'imgate.blocked', message: text, detailed_error: '', request_id: info.reference, status_code: 403 }, info);
    case 'rocketchat':
      return json('403 Forbidden', { success: false, error: text, errorType: 'blocked-by-imgate' }, info);
    case 'teams':
      return json('403 Forbidden', { errorCode: 'Forbidden', message: text }, info);
    case 'googlechat':
      return json('403 Forbidden', { error: { code: 403, message: text, status: 'PERMISSION_DENIED' } }, info);
    default:
      return json('403 Forbidden', { error: text, rule: info.rule, reference: info.reference }, info);
  }
}
