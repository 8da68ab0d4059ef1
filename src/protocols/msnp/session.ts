// One inspected MSNP connection (notification server or switchboard): an
// MsnpFramer per direction feeding the handlers below. Tracks the local
// passport (USR/ANS), the switchboard participants (CAL/JOI/IRO/BYE), asks
// the policy about logins, text messages and MSNSLP file offers, and drops
// or rewrites units with replies the client understands:
//   outbound MSG blocked  -> not forwarded; `NAK trid` when its ack type is A or N
//   inbound MSG blocked   -> dropped
//   redact                -> body rewritten, MSG length parameter fixed
//   file INVITE blocked   -> dropped; `MSNSLP/1.0 603 Decline` to its sender
//   login blocked         -> `911 trid` (authentication failed), then close
// Never throws out of push().
import type { Verdict } from '../../events/types';
import type { DissectorSession, EventDraft, SessionContext, SessionOutput, Side } from '../types';
import { paramText, type MsnLine } from './command';
import { MsnpFramer, PASS, type UnitOutcome } from './framer';
import { parseMsgPayload } from './mime';
import { p2pMsgPayload } from './p2p';
import { P2pHold, type DecidedInvite, type HeldUnit, type HoldStep } from './p2p-hold';
import { inspectP2p } from './p2p-inspect';

export const PROTOCOL = 'msnp';

/** Participants kept per switchboard: real conversations have a handful. */
const MAX_PARTICIPANTS = 32;
const MAX_ACCOUNT = 256;

const severity = (v: Verdict): number => (v.action === 'block' ? 3 : v.action === 'redact' ? 2 : v.action === 'log' ? 1 : 0);
const allowed = (v: Verdict): boolean => v.action === 'allow' || v.action === 'log';

/** `passport;{endpoint-guid}` (MSNP16+) -> passport. */
const passportOf = (s: string): string => {
  const semi = s.indexOf(';');
  return (semi < 0 ? s : s.slice(0, semi)).slice(0, MAX_ACCOUNT);
};

export class MsnpSession implements DissectorSession {
  private readonly framers: Record<Side, MsnpFramer>;
  private readonly holds: Record<Side, P2pHold>;
  private account: string | undefined;
  private versions: string | undefined;
  private participants: string[] = [];
  private lastPeer: string | undefined;
  private lastClientTrid = 0;
  private closed = false;

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
  ) {
    const max = ctx.options.maxUnitBytes;
    const close = (reason: string): void => this.close(reason);
    const sink = (side: Side) => ({
      inspect: (l: MsnLine) => l.command === 'MSG' || this.holds[side].active,
      onUnit: (unit: Buffer, l: MsnLine) => this.unit(side, unit, l),
      forward: (d: Buffer) => out.forward(side, d),
      reply: (d: Buffer) => {
        if (!this.closed) out.inject(side, d);
      },
      close,
    });
    this.framers = { c2s: new MsnpFramer('c2s', sink('c2s'), max), s2c: new MsnpFramer('s2c', sink('s2c'), max) };
    this.holds = { c2s: new P2pHold(max), s2c: new P2pHold(max) };
  }

  get passthrough(): boolean {
    return false;
  }

  /** The local user's passport as far as the session knows it. */
  get passport(): string | undefined {
    return this.account;
  }

  /** Bytes held back across both directions (an incomplete unit each, plus a held P2P INVITE). */
  get bufferedBytes(): number {
    return this.framers.c2s.bufferedBytes + this.framers.s2c.bufferedBytes + this.holds.c2s.bytes + this.holds.s2c.bytes;
  }

  push(from: Side, chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    try {
      this.framers[from].push(chunk);
    } catch (err) {
      this.close(`msnp: internal error: ${(err as Error).message}`);
    }
  }

  end(from: Side): void {
    if (this.closed) return;
    try {
      this.framers[from].end();
      // An INVITE still incomplete at FIN: decide on what arrived.
      const outcome = this.holds[from].active ? this.settle(from, this.holds[from].finish()) : PASS;
      if (outcome !== PASS && outcome.replace) this.out.forward(from, outcome.replace);
    } catch (err) {
      this.close(`msnp: internal error: ${(err as Error).message}`);
    }
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close(reason);
  }

  private unit(side: Side, unit: Buffer, l: MsnLine): UnitOutcome {
    if (side === 'c2s') {
      const trid = Number.parseInt(paramText(unit, l.params[0]), 10);
      if (Number.isSafeInteger(trid) && trid > 0) this.lastClientTrid = trid;
    }
    if (l.command === 'MSG') return this.msg(side, unit, l);
    const outcome = this.command(side, unit, l);
    const hold = this.holds[side];
    // Behind a held INVITE every unit waits its turn (a refused login closes anyway).
    return hold.active && outcome === PASS ? this.settle(side, hold.add({ data: Buffer.from(unit) })) : outcome;
  }

  private command(side: Side, unit: Buffer, l: MsnLine): UnitOutcome {
    switch (l.command) {
      case 'VER':
        if (side === 'c2s') this.versions = l.params.slice(1).map((p) => paramText(unit, p)).join(' ').slice(0, 128);
        return PASS;
      case 'USR':
        return side === 'c2s' ? this.usr(unit, l) : PASS;
      case 'ANS':
        return side === 'c2s' ? this.ans(unit, l) : PASS;
      case 'CAL':
        if (side === 'c2s') this.addParticipant(paramText(unit, l.params[1]));
        return PASS;
      case 'JOI':
        if (side === 's2c') this.addParticipant(paramText(unit, l.params[0]));
        return PASS;
      case 'IRO':
        if (side === 's2c') this.addParticipant(paramText(unit, l.params[3]));
        return PASS;
      case 'BYE':
        if (side === 's2c') this.removeParticipant(paramText(unit, l.params[0]));
        return PASS;
      default:
        return PASS;
    }
  }

  // ---- login ----

  /** NS: `USR trid TWN|SSO|MD5 I passport`; switchboard: `USR trid passport cookie`. */
  private usr(unit: Buffer, l: MsnLine): UnitOutcome {
    const p = l.params.map((x) => paramText(unit, x));
    if (p.length >= 4 && p[2] === 'I') {
      return this.login(unit, l, p[3] as string, { server: 'NS', auth: (p[1] as string).slice(0, 16) });
    }
    if (p.length === 3 && (p[1] as string).includes('@')) {
      return this.login(unit, l, p[1] as string, { server: 'SB', command: 'USR' });
    }
    return PASS;
  }

  /** Switchboard invitation answered: `ANS trid passport cookie sessid`. */
  private ans(unit: Buffer, l: MsnLine): UnitOutcome {
    const passport = paramText(unit, l.params[1]);
    if (!passport.includes('@')) return PASS;
    return this.login(unit, l, passport, { server: 'SB', command: 'ANS' });
  }

  private login(unit: Buffer, l: MsnLine, passport: string, detail: Record<string, string>): UnitOutcome {
    const account = passportOf(passport);
    if (this.versions !== undefined) detail.versions = this.versions;
    const v = this.ctx.decide({ kind: 'login', side: 'c2s', protocol: PROTOCOL, account, detail });
    if (allowed(v)) {
      this.account = account;
      return PASS;
    }
    const trid = paramText(unit, l.params[0]);
    return {
      replace: null,
      reply: Buffer.from(`911 ${/^\d{1,10}$/.test(trid) ? trid : '0'}\r\n`, 'latin1'),
      close: `msnp: login of ${account.slice(0, 64)} blocked by policy (rule ${v.rule})`,
    };
  }

  // ---- switchboard participants ----

  private addParticipant(raw: string): void {
    const who = passportOf(raw);
    if (!who.includes('@')) return;
    this.lastPeer = who;
    const lower = who.toLowerCase();
    if (this.participants.some((p) => p.toLowerCase() === lower)) return;
    if (this.participants.length < MAX_PARTICIPANTS) this.participants.push(who);
  }

  private removeParticipant(raw: string): void {
    const lower = passportOf(raw).toLowerCase();
    this.participants = this.participants.filter((p) => p.toLowerCase() !== lower);
  }

  /** Who an outbound message goes to: every participant, or the last one known. */
  private outboundPeers(): Array<string | undefined> {
    if (this.participants.length > 0) return this.participants;
    return [this.lastPeer];
  }

  // ---- MSG ----

  private msg(side: Side, unit: Buffer, l: MsnLine): UnitOutcome {
    const payload = unit.subarray(l.length);
    const mime = parseMsgPayload(payload);
    const hold = this.holds[side];
    if (mime === null) return hold.active ? this.settle(side, hold.add({ data: Buffer.from(unit) })) : PASS;
    if (mime.contentType === 'application/x-msnmsgrp2p') {
      const sender = side === 's2c' ? passportOf(paramText(unit, l.params[0])) : this.account;
      const ack = side === 'c2s' ? { trid: paramText(unit, l.params[0]), type: paramText(unit, l.params[1]) } : undefined;
      const held: HeldUnit = ack === undefined ? { data: Buffer.from(unit) } : { data: Buffer.from(unit), ack };
      const step = inspectP2p(hold, held, payload.subarray(mime.bodyStart), sender);
      return this.settle(side, step);
    }
    // Typing notifications (text/x-msmsgscontrol), nudges, emoticons and
    // profiles are not messages.
    const outcome = mime.contentType === 'text/plain' ? this.textMessage(side, unit, l, payload, mime.bodyStart) : PASS;
    if (!hold.active) return outcome;
    // Behind a held INVITE: decided now, queued (as rewritten, or not at all) to keep order.
    if (outcome === PASS) return this.settle(side, hold.add({ data: Buffer.from(unit) }));
    const step = outcome.replace === null ? { kind: 'held' as const } : hold.add({ data: outcome.replace });
    const settled = this.settle(side, step);
    if (outcome.reply !== undefined && settled !== PASS) settled.reply = settled.reply === undefined ? outcome.reply : Buffer.concat([outcome.reply, settled.reply]);
    return settled;
  }

  private textMessage(side: Side, unit: Buffer, l: MsnLine, payload: Buffer, bodyStart: number): UnitOutcome {
    const text = payload.toString('utf8', bodyStart);
    const peers = side === 'c2s' ? this.outboundPeers() : [passportOf(paramText(unit, l.params[0]))];
    let worst: Verdict | undefined;
    let redactVerdict: Verdict | undefined;
    for (const peer of peers) {
      const draft: EventDraft = { kind: 'message', side, protocol: PROTOCOL, text };
      if (this.account !== undefined) draft.account = this.account;
      if (peer !== undefined && peer.length > 0) draft.peer = peer;
      const v = this.ctx.decide(draft);
      if (v.action === 'redact' && redactVerdict === undefined) redactVerdict = v;
      if (worst === undefined || severity(v) > severity(worst)) worst = v;
    }
    if (worst === undefined || allowed(worst)) return PASS;
    if (worst.action === 'redact' && redactVerdict !== undefined) {
      const masked = Buffer.from(this.ctx.redact(text, redactVerdict), 'utf8');
      const lenParam = l.params[l.params.length - 1];
      if (lenParam === undefined) return { replace: null };
      return {
        replace: Buffer.concat([
          unit.subarray(0, lenParam.start),
          Buffer.from(String(bodyStart + masked.length), 'latin1'),
          unit.subarray(lenParam.end, l.length),
          payload.subarray(0, bodyStart),
          masked,
        ]),
      };
    }
    if (side === 's2c') return { replace: null };
    const trid = paramText(unit, l.params[0]);
    const ack = paramText(unit, l.params[1]);
    return ack === 'A' || ack === 'N' ? { replace: null, reply: Buffer.from(`NAK ${trid}\r\n`, 'latin1') } : { replace: null };
  }

  // ---- held P2P INVITEs ----

  /** Turns a hold step into the framer outcome: keep holding, or release what is allowed. */
  private settle(side: Side, step: HoldStep): UnitOutcome {
    if (step.kind === 'pass') return PASS;
    if (step.kind === 'held') return { replace: null };
    // 'decide': a complete (or abandoned) INVITE, plus everything held with it.
    let release = step.release;
    const replies: Buffer[] = [];
    for (const inv of step.invites) {
      const v = this.decideFile(side, inv);
      if (allowed(v)) continue;
      const dropped = release.filter((u) => u.key === inv.key);
      release = release.filter((u) => u.key !== inv.key);
      for (const u of dropped) {
        if (u.ack === undefined || !/^\d{1,10}$/.test(u.ack.trid)) continue;
        // A/N ask for a NAK on failure; D (P2P) wants an ACK, and the 603 below ends the call.
        if (u.ack.type === 'A' || u.ack.type === 'N') replies.push(Buffer.from(`NAK ${u.ack.trid}\r\n`, 'latin1'));
        else if (u.ack.type === 'D') replies.push(Buffer.from(`ACK ${u.ack.trid}\r\n`, 'latin1'));
      }
      const decline = inv.decline;
      if (decline !== undefined) replies.push(this.declineMsg(side, inv.invite.from, inv.invite.to, decline));
    }
    const outcome: UnitOutcome = { replace: release.length > 0 ? Buffer.concat(release.map((u) => u.data)) : null };
    if (replies.length > 0) outcome.reply = Buffer.concat(replies);
    return outcome;
  }

  private decideFile(side: Side, inv: DecidedInvite): Verdict {
    const draft: EventDraft = { kind: 'file', side, protocol: PROTOCOL, file: inv.file, detail: { transport: 'msnslp' } };
    if (this.account !== undefined) draft.account = this.account;
    const peer = side === 'c2s' ? inv.invite.to || this.outboundPeers()[0] : inv.invite.from || inv.sender;
    if (peer !== undefined && peer.length > 0) draft.peer = passportOf(peer);
    return this.ctx.decide(draft);
  }

  /**
   * The 603 Decline goes back to whoever sent the INVITE. To the client it
   * looks like a switchboard MSG from the invitee; to the server it is a
   * client MSG with ack type U, so the server sends no ACK the real client
   * would not recognise (its trid is the client's last, reused).
   */
  private declineMsg(side: Side, inviter: string, invitee: string, decline: Buffer): Buffer {
    const payload = p2pMsgPayload(inviter, decline);
    const who = invitee || this.lastPeer || 'unknown';
    const line = side === 'c2s' ? `MSG ${who} ${who} ${payload.length}\r\n` : `MSG ${this.lastClientTrid} U ${payload.length}\r\n`;
    return Buffer.concat([Buffer.from(line, 'utf8'), payload]);
  }
}
