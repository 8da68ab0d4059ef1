// One inspected IRC connection: a LineFramer per direction feeding the
// command handlers below. Tracks the local user's nick (the account), asks
// the policy about logins, messages, CTCPs and DCC offers, and rewrites or
// drops lines according to the verdicts. Never throws out of push().
import type { Verdict } from '../../events/types';
import type { DissectorSession, EventDraft, SessionContext, SessionOutput, Side } from '../types';
import { recordDccOffer } from './dcc-table';
import { messageEvent, PROTOCOL, type TextEvent } from './events';
import { LineFramer, PASS, type LineOutcome } from './framer';
import { isChannel, isUserPrefix, paramText, parseLine, prefixNick, type IrcLine } from './parse';
import { blockedNotice, loginRefused, starttlsRefused } from './replies';

/** SASL PLAIN payloads are a few hundred bytes; anything larger is not worth decoding. */
const MAX_SASL_PAYLOAD = 4096;
const SASL_CHUNK = 400;

const severity = (v: Verdict): number => (v.action === 'block' ? 3 : v.action === 'redact' ? 2 : v.action === 'log' ? 1 : 0);

const ircLower = (s: string): string => s.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ '[': '{', ']': '}', '\\': '|', '~': '^' })[c] as string);

export class IrcSession implements DissectorSession {
  private readonly framers: Record<Side, LineFramer>;
  private account: string | undefined;
  private registered = false;
  private username: string | undefined;
  private sentPass = false;
  private saslMech: string | undefined;
  private saslBuf = '';
  private starttlsAsked = false;
  private closed = false;
  private through = false;

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
  ) {
    const max = ctx.options.maxUnitBytes;
    const close = (reason: string): void => this.close(reason);
    const reply = (data: Buffer): void => {
      if (!this.closed) out.inject('c2s', data);
    };
    this.framers = {
      c2s: new LineFramer({ onLine: (l) => this.clientLine(l), forward: (d) => out.forward('c2s', d), reply, close }, max),
      s2c: new LineFramer({ onLine: (l) => this.serverLine(l), forward: (d) => out.forward('s2c', d), reply, close }, max),
    };
  }

  get passthrough(): boolean {
    return this.through;
  }

  /** The local user's nick as the session knows it (for tests and logs). */
  get nick(): string | undefined {
    return this.account;
  }

  /** Bytes held back across both directions (an unterminated line each, at most). */
  get bufferedBytes(): number {
    return this.framers.c2s.bufferedBytes + this.framers.s2c.bufferedBytes;
  }

  push(from: Side, chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.framers[from].push(chunk);
    } catch (err) {
      this.close(`irc: internal error: ${(err as Error).message}`);
    }
  }

  end(from: Side): void {
    if (this.closed) return;
    try {
      this.framers[from].end();
    } catch (err) {
      this.close(`irc: internal error: ${(err as Error).message}`);
    }
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close(reason);
  }

  private get nickOrStar(): string {
    return this.account ?? '*';
  }

  // ---- client -> server ----

  private clientLine(line: Buffer): LineOutcome {
    const p = parseLine(line);
    switch (p.command) {
      case 'NICK':
        return this.clientNick(line, p);
      case 'USER':
        this.username = paramText(line, p.params[0]).slice(0, 64);
        return PASS;
      case 'PASS':
        this.sentPass = true;
        return PASS;
      case 'AUTHENTICATE':
        return this.authenticate(line, p);
      case 'PRIVMSG':
      case 'NOTICE':
        return this.message('c2s', line, p);
      case 'STARTTLS':
        return this.clientStartTls();
      default:
        return PASS;
    }
  }

  private clientNick(line: Buffer, p: IrcLine): LineOutcome {
    const nick = paramText(line, p.params[0]);
    if (nick.length === 0) return PASS;
    const detail: Record<string, string | number | boolean> = { command: 'NICK' };
    if (this.username !== undefined) detail.username = this.username;
    if (this.sentPass) detail.password = true;
    if (this.registered && this.account !== undefined) detail.previous = this.account;
    const v = this.ctx.decide({ kind: 'login', side: 'c2s', protocol: PROTOCOL, account: nick, detail });
    if (v.action === 'allow' || v.action === 'log') {
      // Before registration the requested nick is the best account we have;
      // afterwards a change only counts once the server acknowledges it.
      if (!this.registered) this.account = nick;
      return PASS;
    }
    if (this.registered) return { replace: null, reply: blockedNotice(this.nickOrStar, 'Nick change', v.rule) };
    return { replace: null, reply: loginRefused(), close: `irc: login of ${nick} blocked by policy (rule ${v.rule})` };
  }

  private authenticate(line: Buffer, p: IrcLine): LineOutcome {
    const arg = paramText(line, p.params[0]);
    if (this.saslMech === undefined) {
      this.saslMech = arg.toUpperCase().slice(0, 32);
      this.saslBuf = '';
      return PASS;
    }
    if (arg === '*') {
      this.saslMech = undefined;
      return PASS;
    }
    if (this.saslMech !== 'PLAIN') return PASS;
    if (arg !== '+') {
      if (this.saslBuf.length + arg.length > MAX_SASL_PAYLOAD) {
        this.saslMech = undefined;
        return PASS;
      }
      this.saslBuf += arg;
      // A 400-byte piece means more follows (ended by '+' if it was exact).
      if (arg.length === SASL_CHUNK) return PASS;
    }
    const parts = Buffer.from(this.saslBuf, 'base64').toString('utf8').split('\0');
    this.saslMech = undefined;
    this.saslBuf = '';
    const authcid = parts[1];
    if (authcid === undefined || authcid.length === 0) return PASS;
    const detail: Record<string, string | number | boolean> = { mechanism: 'PLAIN' };
    if (parts[0]) detail.authzid = parts[0].slice(0, 128);
    if (this.account !== undefined) detail.nick = this.account;
    const v = this.ctx.decide({ kind: 'login', side: 'c2s', protocol: PROTOCOL, account: authcid.slice(0, 256), detail });
    if (v.action === 'allow' || v.action === 'log') return PASS;
    return { replace: null, reply: loginRefused(), close: `irc: SASL login of ${authcid.slice(0, 64)} blocked by policy (rule ${v.rule})` };
  }

  private clientStartTls(): LineOutcome {
    const mode = this.ctx.options.starttls;
    if (mode === 'pass') {
      this.starttlsAsked = true;
      return PASS;
    }
    if (mode === 'strip') {
      this.ctx.log.info({ conn: this.ctx.conn, protocol: PROTOCOL }, 'irc STARTTLS refused (strip)');
      return { replace: null, reply: starttlsRefused(this.nickOrStar) };
    }
    return { replace: null, close: 'irc: STARTTLS blocked by policy' };
  }

  // ---- server -> client ----

  private serverLine(line: Buffer): LineOutcome {
    const p = parseLine(line);
    switch (p.command) {
      case 'PRIVMSG':
        return this.message('s2c', line, p);
      case 'NOTICE':
        // Server notices ("*** Looking up your hostname") are not IM traffic.
        return isUserPrefix(p.prefix) ? this.message('s2c', line, p) : PASS;
      case '001': {
        const nick = paramText(line, p.params[0]);
        if (nick.length > 0) this.account = nick;
        this.registered = true;
        return PASS;
      }
      case 'NICK': {
        const from = prefixNick(p.prefix);
        const to = paramText(line, p.params[0]);
        if (from !== undefined && to.length > 0 && this.account !== undefined && ircLower(from) === ircLower(this.account)) this.account = to;
        return PASS;
      }
      case 'CAP':
        return this.ctx.options.starttls === 'strip' ? this.stripCapTls(line, p) : PASS;
      case '670':
        if (!this.starttlsAsked || this.ctx.options.starttls !== 'pass') return PASS;
        this.through = true;
        this.framers.c2s.passthrough();
        this.ctx.log.info({ conn: this.ctx.conn, protocol: PROTOCOL }, 'irc STARTTLS passed: no more inspection');
        return { replace: line, passthrough: true };
      case '691':
        this.starttlsAsked = false;
        return PASS;
      default:
        return PASS;
    }
  }

  /** CAP LS/NEW: drop the tls (and sts, which forces TLS) capabilities. */
  private stripCapTls(line: Buffer, p: IrcLine): LineOutcome {
    const sub = paramText(line, p.params[1]).toUpperCase();
    if (sub !== 'LS' && sub !== 'NEW') return PASS;
    const last = p.params[p.params.length - 1];
    if (last === undefined || p.params.length < 3) return PASS;
    const caps = paramText(line, last).split(' ');
    const kept = caps.filter((c) => {
      const name = c.split('=')[0]?.toLowerCase();
      return name !== 'tls' && name !== 'sts';
    });
    if (kept.length === caps.length) return PASS;
    return { replace: Buffer.concat([line.subarray(0, last.start), Buffer.from(kept.join(' ')), line.subarray(last.end)]) };
  }

  // ---- messages, CTCP and DCC in either direction ----

  private message(side: Side, line: Buffer, p: IrcLine): LineOutcome {
    const targetParam = p.params[0];
    const textParam = p.params[1];
    if (targetParam === undefined || textParam === undefined) return PASS;
    const targets = paramText(line, targetParam);
    const text = paramText(line, textParam);
    const command = p.command === 'NOTICE' ? 'NOTICE' : 'PRIVMSG';
    const sender = side === 's2c' ? prefixNick(p.prefix) : undefined;
    let worst: Verdict | undefined;
    let redactVerdict: Verdict | undefined;
    let ev: TextEvent | undefined;
    for (const target of targets.split(',')) {
      if (target.length === 0) continue;
      const info = { side, account: this.account, peer: side === 'c2s' ? target : sender, command, text } as const;
      ev = messageEvent(side === 's2c' && isChannel(target) ? { ...info, channel: target } : info);
      const v = this.ctx.decide(ev.draft);
      if (v.action === 'redact' && redactVerdict === undefined) redactVerdict = v;
      if (worst === undefined || severity(v) > severity(worst)) worst = v;
    }
    if (worst === undefined || ev === undefined) return PASS;
    if (ev.dcc?.address !== undefined && ev.dcc.port !== undefined && ev.dcc.port > 0 && (ev.dcc.type === 'SEND' || ev.dcc.type === 'CHAT')) {
      this.recordOffer(ev, side, sender ?? targets, worst);
    }
    if (worst.action === 'allow' || worst.action === 'log') return PASS;
    if (worst.action === 'redact' && redactVerdict !== undefined && ev.textRange !== null && ev.draft.kind === 'message') {
      const [a, b] = ev.textRange;
      const masked = text.slice(0, a) + this.ctx.redact(text.slice(a, b), redactVerdict) + text.slice(b);
      return { replace: Buffer.concat([line.subarray(0, textParam.start), Buffer.from(masked, 'utf8'), line.subarray(textParam.end)]) };
    }
    const what = ev.draft.kind === 'file' ? 'DCC SEND' : side === 'c2s' ? 'Message' : `Message from ${sender ?? 'server'}`;
    return { replace: null, reply: blockedNotice(this.nickOrStar, what, worst.rule) };
  }

  private recordOffer(ev: TextEvent, side: Side, peer: string, v: Verdict): void {
    const dcc = ev.dcc;
    if (dcc === undefined || dcc.address === undefined || dcc.port === undefined) return;
    recordDccOffer({
      type: dcc.type === 'SEND' ? 'SEND' : 'CHAT',
      host: dcc.address,
      port: dcc.port,
      ...(dcc.type === 'SEND' ? { file: dcc.argument } : {}),
      ...(dcc.size !== undefined ? { size: dcc.size } : {}),
      ...(this.account !== undefined ? { account: this.account } : {}),
      peer,
      side,
      conn: this.ctx.conn,
      action: v.action,
      rule: v.rule,
      time: Date.now(),
    });
  }
}

export type { EventDraft };
