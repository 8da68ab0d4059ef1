// One recognised web IM request or response: read the body (bounded), find
// the messages, logins and files in it, ask the policy (and the AV service)
// about each, and turn the answers into one ICAP verdict: allow (204 / echo),
// block (the app's own error), or modify (the text rewritten in place,
// everything else byte-identical). A body that cannot be read gets the
// configured on_error verdict; nothing here throws into the ICAP server.
import type { HttpHead, IcapRequest, IcapVerdict } from '../../icap/types';
import type { Metrics } from '../admin/metrics';
import type { AuditSink } from '../audit/types';
import type { AvService } from '../av/types';
import { newEventId } from '../events/id';
import type { ImEvent, Verdict } from '../events/types';
import { recordEvent } from '../inspect/context';
import type { Logger } from '../log';
import type { PolicyStore } from '../policy/store';
import { escapeXml } from '../protocols/xmpp';
import { blockResponse } from '../icap-services/block-page';
import { webBlockResponse } from './block';
import { extractBosh } from './bosh';
import { BoshWebSessions } from './bosh-session';
import type { EndpointMatch, WebImCatalog } from './catalog';
import { codingOf, decodeBody, encodeBody } from './decode';
import { WebBodyError } from './errors';
import { extractFields, type Extraction, type FoundFile, type FoundMessage, type Span } from './extract';
import { formEncode } from './form';
import { jsonLiteral } from './json-scan';
import { MsnGatewaySessions } from './msn';
import { YahooHttpSessions } from './yahoo';
import { BodyScratch, readBounded } from './read-body';
import { AvTransfer } from './transfer';

export interface WebImDeps {
  policy: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  catalog: () => WebImCatalog;
  /**
   * The live AV service (src/av createAvService; a getter because a reload
   * replaces it): every uploaded or downloaded file found in an inspected
   * body is scanned; infected (or a fail-closed scan error) -> block.
   */
  av?: () => AvService | undefined;
  /** The ICAP server's replay buffer: reading more than this would make an allow impossible to echo. */
  replayBufferBytes: number;
  logTextMax?: number;
  /** The record store's queue (src/audit): every decided event is handed to it. */
  audit?: AuditSink;
  /** Keeps a copy of a file found in a body (src/audit FileArchive.putBuffer); returns its sha256. */
  archiveFile?: (content: Buffer, meta: { name?: string }) => { sha256: string };
}

const ALLOW: IcapVerdict = Object.freeze({ kind: 'allow' });
const ALLOWED: Promise<IcapVerdict> = Promise.resolve(ALLOW);
/** Reused body buffers: up to 4 concurrent reads of bodies up to 256 KiB. */
const SCRATCH_BYTES = 256 * 1024;
const SCRATCH_KEEP = 4;
/** Room for what the ICAP body stream holds beyond what we consumed (high-water mark + a chunk). */
const REPLAY_MARGIN = 256 * 1024;

interface Replacement {
  start: number;
  end: number;
  bytes: Buffer;
}

/** Content-Length: a number, absent, or 'bad' (what /^\s*\d{1,15}\s*$/ refused), without a RegExp per request. */
export function contentLength(head: HttpHead): number | undefined | 'bad' {
  const v = head.get('content-length');
  if (v === undefined) return undefined;
  let i = 0;
  let j = v.length;
  while (i < j && isSpace(v.charCodeAt(i))) i++;
  while (j > i && isSpace(v.charCodeAt(j - 1))) j--;
  if (j === i || j - i > 15) return 'bad';
  for (let k = i; k < j; k++) {
    const c = v.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return 'bad';
  }
  return Number(v.slice(i, j));
}

/** What \s matches (JS whitespace, line terminators included). */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0xfeff || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** A 2xx status line (what /^HTTP\/\d(?:\.\d)? 2\d\d/ accepted). */
function isSuccess(line: string): boolean {
  const m = /^HTTP\/\d(?:\.\d)? 2\d\d/.exec(line);
  return m !== null;
}

function logFields(req: IcapRequest, match: EndpointMatch, base: ImEvent): Record<string, unknown> {
  return { conn: req.connectionId, icap: req.id, client: base.clientIp, user: base.user, app: match.endpoint.app, url: base.url };
}

function encodeSpan(span: Span, text: string): Buffer {
  switch (span.encoding) {
    case 'json':
      return jsonLiteral(text);
    case 'form':
      return formEncode(text);
    case 'xml':
      return Buffer.from(escapeXml(text), 'utf8');
    default:
      return Buffer.from(text, 'utf8');
  }
}

/** The body with the replacements spliced in (ranges sorted; one inside another is dropped). */
export function splice(body: Buffer, reps: Replacement[]): Buffer {
  reps.sort((a, b) => a.start - b.start || b.end - a.end);
  const parts: Buffer[] = [];
  let at = 0;
  for (const r of reps) {
    if (r.start < at) continue;
    parts.push(body.subarray(at, r.start), r.bytes);
    at = r.end;
  }
  parts.push(body.subarray(at));
  return Buffer.concat(parts);
}

export class WebImInspector {
  private readonly msn: MsnGatewaySessions;
  private readonly yahoo: YahooHttpSessions;
  private readonly transfers: AvTransfer;
  /** BOSH sid -> domain, account, owed error stanzas (bounded). */
  private readonly bosh = new BoshWebSessions();
  private readonly scratch = new BodyScratch(SCRATCH_BYTES, SCRATCH_KEEP);

  constructor(private readonly deps: WebImDeps) {
    this.msn = new MsnGatewaySessions(deps, 1024 * 1024);
    this.yahoo = new YahooHttpSessions(deps, 1024 * 1024);
    this.transfers = new AvTransfer(deps);
  }

  /** True when AV scanners are configured: every body crossing the door is then a file to scan. */
  scansTransfers(): boolean {
    return this.transfers.enabled();
  }

  /** Any upload or download that is not web IM: held, scanned, passed on or blocked (HTML/JSON block page). */
  transfer(req: IcapRequest, base: ImEvent): Promise<IcapVerdict> {
    return this.transfers.handle(req, base, {
      block: (ev, v, what) => {
        const page = blockResponse({ rule: v.rule, reference: ev.id, url: base.url }, req.httpRequest?.get('accept'));
        this.deps.logger.info(
          { conn: req.connectionId, icap: req.id, method: req.method, client: base.clientIp, user: base.user, url: base.url, rule: v.rule, reference: ev.id, what },
          'blocked',
        );
        return { kind: 'block', response: page.head, body: page.body, reason: `rule ${v.rule}` };
      },
    });
  }

  /** A web IM endpoint's files in a body too large to inspect: scanned as a transfer, blocked in the app's shape. */
  private appTransfer(req: IcapRequest, match: EndpointMatch, base: ImEvent): Promise<IcapVerdict> {
    const ep = match.endpoint;
    const name = ep.file_name.map((src) => (src.startsWith('query:') ? match.query.get(src.slice(6)) : null)).find((v) => v !== null && v !== '');
    return this.transfers.handle(req, base, {
      app: ep.app,
      protocol: ep.protocol,
      ...(name != null ? { name } : {}),
      block: (ev, v, what) => this.block(req, match, base, ev, v, what),
    });
  }

  inspect(req: IcapRequest, match: EndpointMatch, base: ImEvent): Promise<IcapVerdict> {
    const isReq = req.method === 'REQMOD';
    const head = isReq ? req.httpRequest : req.httpResponse;
    if (!req.hasBody || head === undefined) return ALLOWED;
    const bodyStream = req.body;
    if (bodyStream === null) return ALLOWED;
    if (!isReq && !isSuccess(head.startLine)) return ALLOWED;
    const lim = this.deps.catalog().limits;
    const maxBody = Math.max(1024, Math.min(lim.max_body_bytes, this.deps.replayBufferBytes - REPLAY_MARGIN));
    const ep = match.endpoint;
    const declared = contentLength(head);
    // Files too large to read as one body are still scanned, streamed through the spool.
    if (ep.files.length > 0 && declared !== 'bad' && (declared === undefined || declared > maxBody) && this.transfers.enabled()) {
      return this.appTransfer(req, match, base);
    }
    if (typeof declared === 'number' && declared > maxBody) {
      this.deps.logger.info({ ...logFields(req, match, base), bytes: declared, limit: maxBody }, 'web IM body over the inspection limit: decided on the heads only');
      return ALLOWED;
    }
    if (declared === 'bad') return Promise.resolve(this.onError(req, match, base, new WebBodyError('length', 'Content-Length is not a number')));
    // Only a plain fields body whose verdict is reached without waiting (no
    // files to scan) and whose bytes nothing keeps (BOSH/MSN state do) may
    // be read into a reused buffer.
    const scratch = ep.handler === 'fields' && ep.files.length === 0 ? this.scratch : undefined;
    return readBounded(bodyStream, maxBody, declared, scratch).then((read) => {
      if (read.over) {
        this.deps.logger.info({ ...logFields(req, match, base), seen: read.seen, limit: maxBody }, 'web IM body over the inspection limit: decided on the heads only');
        return ALLOW;
      }
      try {
        const v = this.inspectBody(req, match, base, head, read.bytes, declared);
        // A scan (files) or the MSN handler answers later; their unreadable-body errors get the same on_error verdict.
        return v instanceof Promise ? v.catch((err: unknown) => this.onBodyError(req, match, base, err)) : v;
      } catch (err) {
        if (!(err instanceof WebBodyError)) throw err;
        return this.onError(req, match, base, err);
      } finally {
        if (read.scratch) this.scratch.release(read.bytes);
      }
    });
  }

  /** The body is read: find what it carries and decide (synchronously unless files are scanned). */
  private inspectBody(req: IcapRequest, match: EndpointMatch, base: ImEvent, head: HttpHead, raw: Buffer, declared: number | undefined): IcapVerdict | Promise<IcapVerdict> {
    const isReq = req.method === 'REQMOD';
    const ep = match.endpoint;
    const lim = this.deps.catalog().limits;
    if (declared !== undefined && declared !== raw.length) {
      throw new WebBodyError('length', `Content-Length says ${declared}, the body has ${raw.length} bytes`);
    }
    const coding = codingOf(head.get('content-encoding'));
    const body = decodeBody(raw, coding, { maxDecodedBytes: lim.max_decoded_bytes, maxRatio: lim.max_decode_ratio });
    if (ep.handler === 'msn-gateway') {
      if (coding !== 'identity') throw new WebBodyError('encoding', 'MSN gateway bodies are never compressed');
      const target = `${match.path}?${match.query.toString()}`;
      return isReq ? this.msn.request(req, target, base, body) : this.msn.response(req, target, base, body);
    }
    if (ep.handler === 'yahoo-http') {
      if (coding !== 'identity') throw new WebBodyError('encoding', 'Yahoo HTTP bodies are never compressed');
      return isReq ? this.yahoo.request(req, base, body) : this.yahoo.response(req, base, body);
    }
    const maxBody = Math.max(1024, Math.min(lim.max_body_bytes, this.deps.replayBufferBytes - REPLAY_MARGIN));
    const found = this.extract(req, match, head, body, maxBody);
    const boshKey = ep.handler === 'bosh' ? this.bosh.annotate(isReq, { url: base.url, client: base.clientIp, user: base.user }, found) : null;
    if (found.messages.length === 0 && found.files.length === 0 && (isReq || !this.bosh.owes(boshKey))) return ALLOW;
    return this.decide(req, match, base, body, coding, found, boshKey);
  }

  private extract(req: IcapRequest, match: EndpointMatch, head: HttpHead, body: Buffer, maxBody: number): Extraction {
    const ep = match.endpoint;
    if (ep.handler === 'bosh') return extractBosh(body, req.method === 'REQMOD', Math.max(maxBody, body.length));
    const lim = this.deps.catalog().limits;
    const reqHead = req.httpRequest;
    return extractFields({
      match,
      body,
      contentType: head.get('content-type'),
      header: (n) => reqHead?.get(n),
      limits: { maxJsonDepth: lim.max_json_depth, maxFields: lim.max_fields },
    });
  }

  private event(base: ImEvent, match: EndpointMatch, kind: ImEvent['kind'], m: Partial<FoundMessage>): ImEvent {
    // A literal with the base's fields, not a rest-copy (\`{ verdict, ...ev }\`
    // is a generic property walk) and not a \`delete\` (which would make a
    // slow dictionary object that the policy and the audit copy then pay for).
    const ev: ImEvent = {
      id: newEventId(),
      time: Date.now(),
      conn: base.conn,
      door: base.door,
      groups: base.groups,
      protocol: match.endpoint.protocol,
      kind,
      direction: base.direction,
      app: match.endpoint.app,
    };
    if (base.clientIp !== undefined) ev.clientIp = base.clientIp;
    if (base.user !== undefined) ev.user = base.user;
    if (base.method !== undefined) ev.method = base.method;
    if (base.url !== undefined) ev.url = base.url;
    if (base.host !== undefined) ev.host = base.host;
    if (base.destination !== undefined) ev.destination = base.destination;
    if (base.account !== undefined) ev.account = base.account;
    if (base.peer !== undefined) ev.peer = base.peer;
    if (base.text !== undefined) ev.text = base.text;
    if (base.file !== undefined) ev.file = base.file;
    if (m.text !== undefined) ev.text = m.text;
    if (m.peer !== undefined) ev.peer = m.peer;
    if (m.account !== undefined) ev.account = m.account;
    return ev;
  }

  private record(ev: ImEvent, verdict: Verdict, detail?: Record<string, string | number | boolean>): void {
    ev.verdict = verdict;
    recordEvent(this.deps, ev, verdict, detail, this.deps.logTextMax ?? 4096);
  }

  /** Messages are decided here and now; files (AV scans) make the answer a promise. */
  private decide(req: IcapRequest, match: EndpointMatch, base: ImEvent, body: Buffer, coding: ReturnType<typeof codingOf>, found: Extraction, boshKey: string | null = null): IcapVerdict | Promise<IcapVerdict> {
    const reps: Replacement[] = [];
    const policy = this.deps.policy;
    for (const m of found.messages) {
      const ev = this.event(base, match, m.kind, m);
      const v = policy.evaluate(ev);
      this.record(ev, v);
      if (v.action === 'block' || (v.action === 'redact' && (m.kind !== 'message' || m.spans.length === 0))) {
        // BOSH: a blocked stanza is cut out; the wrapper (and its rid) still goes on.
        if (m.stanza !== undefined && m.kind === 'message') {
          // ...and the sender is told, in the next response of its BOSH session; under XEP-0198
          // something the server counts takes its place so both sides' h stay equal.
          reps.push({ ...m.stanza, bytes: boshKey !== null ? this.bosh.cut(boshKey, req.method === 'REQMOD', body, m, v.rule) : Buffer.alloc(0) });
        }
        else return this.block(req, match, base, ev, v, m.kind === 'login' ? 'login' : 'message text');
      } else if (v.action === 'redact') {
        for (const s of m.spans) {
          const masked = policy.redact(s.value, v);
          if (masked !== s.value) reps.push({ start: s.start, end: s.end, bytes: encodeSpan(s, masked) });
        }
      }
    }
    if (found.files.length > 0) return this.decideFiles(req, match, base, body, coding, found, boshKey, reps);
    return this.finishDecision(req, match, base, body, coding, found, boshKey, reps);
  }

  private async decideFiles(req: IcapRequest, match: EndpointMatch, base: ImEvent, body: Buffer, coding: ReturnType<typeof codingOf>, found: Extraction, boshKey: string | null, reps: Replacement[]): Promise<IcapVerdict> {
    for (const f of found.files) {
      const blocked = await this.checkFile(req, match, base, body, f);
      if (blocked !== null) return blocked;
    }
    return this.finishDecision(req, match, base, body, coding, found, boshKey, reps);
  }

  private finishDecision(req: IcapRequest, match: EndpointMatch, base: ImEvent, body: Buffer, coding: ReturnType<typeof codingOf>, found: Extraction, boshKey: string | null, reps: Replacement[]): IcapVerdict {
    if (boshKey !== null && req.method !== 'REQMOD') {
      const owed = this.bosh.deliver(boshKey, found);
      if (owed !== null) reps.push(owed);
    }
    if (reps.length === 0) return ALLOW;
    const rewritten = encodeBody(splice(body, reps), coding);
    this.deps.logger.info({ conn: req.connectionId, icap: req.id, app: match.endpoint.app, url: base.url, edits: reps.length, bytes: rewritten.length }, 'web IM body rewritten');
    return { kind: 'modify', body: rewritten };
  }

  private async checkFile(req: IcapRequest, match: EndpointMatch, base: ImEvent, body: Buffer, f: FoundFile): Promise<IcapVerdict | null> {
    const ev = this.event(base, match, 'file', {});
    const content = body.subarray(f.start, f.end);
    ev.file = { size: content.length };
    if (f.name !== undefined) ev.file.name = f.name;
    const v = this.deps.policy.evaluate(ev);
    const av = this.deps.av?.();
    let detail: Record<string, string | number | boolean> | undefined;
    let avBlock: string | null = null;
    if (v.action !== 'block' && av !== undefined && av.enabled) {
      const r = await av.scan(content, { name: f.name, size: content.length, conn: req.connectionId });
      if (r.sha256 !== undefined) ev.file.sha256 = r.sha256;
      const o = r.outcome;
      if (o.status === 'infected') {
        detail = { scanner: r.scanner, signature: o.signature };
        avBlock = o.signature;
      } else if (o.status === 'error') {
        detail = { scanner: r.scanner, scan_error: o.reason, fail_open: o.failOpen };
        if (!o.failOpen) avBlock = `scan failed: ${o.reason}`;
      }
    }
    // Archived before the event is recorded so the row carries the sha256;
    // content a scanner called infected is recorded by metadata only.
    if (avBlock === null && this.deps.archiveFile !== undefined) {
      const kept = this.deps.archiveFile(content, f.name !== undefined ? { name: f.name } : {});
      ev.file.sha256 ??= kept.sha256;
    }
    if (avBlock !== null) {
      const av: Verdict = { action: 'block', rule: `av:${detail?.scanner ?? 'scanner'}` };
      this.record(ev, av, detail);
      return this.block(req, match, base, ev, av, `file ${f.name ?? '(unnamed)'}: ${avBlock}`);
    }
    this.record(ev, v, detail);
    // A file cannot be partly redacted: redact means it does not go through.
    if (v.action === 'block' || v.action === 'redact') return this.block(req, match, base, ev, v, `file ${f.name ?? '(unnamed)'}`);
    return null;
  }

  private block(req: IcapRequest, match: EndpointMatch, base: ImEvent, ev: ImEvent, v: Verdict, what: string): IcapVerdict {
    const page = webBlockResponse(match.endpoint.errorShape, { rule: v.rule, reference: ev.id, url: base.url, what }, req.httpRequest?.get('accept'));
    this.deps.logger.info(
      { conn: req.connectionId, icap: req.id, method: req.method, client: base.clientIp, user: base.user, app: match.endpoint.app, url: base.url, rule: v.rule, reference: ev.id, what },
      'blocked',
    );
    return { kind: 'block', response: page.head, body: page.body, reason: `rule ${v.rule}` };
  }

  private onBodyError(req: IcapRequest, match: EndpointMatch, base: ImEvent, err: unknown): IcapVerdict {
    if (!(err instanceof WebBodyError)) throw err;
    return this.onError(req, match, base, err);
  }

  private onError(req: IcapRequest, match: EndpointMatch, base: ImEvent, err: WebBodyError): IcapVerdict {
    const mode = this.deps.catalog().onError;
    const action = mode === 'default' ? this.deps.policy.current.policy.doc.default : mode;
    // Redaction needs a readable body: an unreadable one cannot be partly let through.
    const blocks = action === 'block' || action === 'redact';
    this.deps.logger.warn(
      { conn: req.connectionId, icap: req.id, client: base.clientIp, user: base.user, app: match.endpoint.app, url: base.url, fault: err.fault, err: err.message, verdict: blocks ? 'block' : 'allow' },
      'web IM body unreadable',
    );
    this.deps.metrics.policyVerdicts.inc({ action: blocks ? 'block' : 'allow' });
    if (!blocks) return ALLOW;
    const ev = this.event(base, match, 'unknown', {});
    return this.block(req, match, base, ev, { action: 'block', rule: mode === 'default' ? 'default' : 'on_error' }, `unreadable body: ${err.fault}`);
  }
}
