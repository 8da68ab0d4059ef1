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
// The data of an allowed file INVITE is reassembled as it passes
// (p2p-files.ts) and handed to the gateway's file sink (hash, AV, archive).
// When that sink scans, the MSG completing the file waits for the verdict
// (verdict-hold.ts: why that cannot deadlock); a refused file's MSG is
// dropped and both ends get an SLP BYE for the call, as when a client
// cancels a started transfer:
//   infected file from c2s -> held MSG dropped; `ACK trid` (D) / `NAK trid`
//                             (A/N) and a BYE to the client, a BYE to the peer
//   infected file from s2c -> held MSG dropped; a BYE to the client, a BYE to the sender
// Every byte a direction forwards passes its VerdictHold, so whatever
// follows a held MSG stays behind it. Never throws out of push().
import { randomUUID } from 'node:crypto';
import type { Verdict } from '../../events/types';
import type { DissectorSession, EventDraft, SessionContext, SessionOutput, Side } from '../types';
import { paramText, type MsnLine } from './command';
import { MsnpFramer, PASS, type UnitOutcome } from './framer';
import { parseMsgPayload } from './mime';
import { openFileSink } from '../files/sink';
import { buildBye, p2pMsgPayload } from './p2p';
import { buildByeV2 } from './p2p-v2';
import { P2pFiles, parseSessionId, type MsnFileOffer } from './p2p-files';
import { P2pHold, type DecidedInvite, type HeldUnit, type HoldStep } from './p2p-hold';
import { inspectP2p } from './p2p-inspect';
import { VerdictHold, type EndUnit, type VerdictHoldHost } from './verdict-hold';

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
  /** Per direction: the MSG completing a scanned file, and what follows it, until the verdict. */
  private readonly verdicts: Record<Side, VerdictHold>;
  private readonly files: P2pFiles;
  private account: string | undefined;
  private versions: string | undefined;
  private participants: string[] = [];
  private lastPeer: string | undefined;
  private lastClientTrid = 0;
  private closed = false;

  constructor(
    private readonly ctx: SessionContext,
    private readonly out: SessionOutput,
    /**
     * false: never hold a file's last MSG for its verdict (the file is still
     * scanned and recorded). For callers that collect a unit's output
     * synchronously (the HTTP gateway's body-by-body inspector), where a
     * late release would have no body to go into.
     */
    private readonly holdFiles = true,
  ) {
    const max = ctx.options.maxUnitBytes;
    const close = (reason: string): void => this.close(reason);
    const sink = (side: Side) => ({
      inspect: (l: MsnLine) => l.command === 'MSG' || this.holds[side].active,
      onUnit: (unit: Buffer, l: MsnLine) => this.unit(side, unit, l),
      forward: (d: Buffer) => this.verdicts[side].forward(d),
      reply: (d: Buffer) => {
        if (!this.closed) out.inject(side, d);
      },
      close,
    });
    this.framers = { c2s: new MsnpFramer('c2s', sink('c2s'), max), s2c: new MsnpFramer('s2c', sink('s2c'), max) };
    this.holds = { c2s: new P2pHold(max), s2c: new P2pHold(max) };
    this.verdicts = { c2s: new VerdictHold(this.verdictHost('c2s')), s2c: new VerdictHold(this.verdictHost('s2c')) };
    this.files = new P2pFiles((draft) => openFileSink(ctx, draft));
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
    const f = this.framers.c2s.bufferedBytes + this.framers.s2c.bufferedBytes;
    return f + this.holds.c2s.bytes + this.holds.s2c.bytes + this.verdicts.c2s.bytes + this.verdicts.s2c.bytes;
  }

  push(from: Side, chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    try {
      this.verdicts[from].disarm();
      this.framers[from].push(chunk);
    } catch (err) {
      this.close(`msnp: internal error: ${(err as Error).message}`);
    }
  }

  end(from: Side): void {
    if (this.closed) return;
    try {
      this.framers[from].end();
      this.files.endSide(from);
      // An INVITE still incomplete at FIN: decide on what arrived.
      const outcome = this.holds[from].active ? this.settle(from, this.holds[from].finish()) : PASS;
      const v = this.verdicts[from];
      if (outcome !== PASS && outcome.replace !== null) for (const b of Buffer.isBuffer(outcome.replace) ? [outcome.replace] : outcome.replace) v.forward(b);
      // The relay half-closes right after this returns: a file still held is refused now.
      v.finish();
    } catch (err) {
      this.close(`msnp: internal error: ${(err as Error).message}`);
    }
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.verdicts.c2s.close();
    this.verdicts.s2c.close();
    this.files.endSide(null);
    this.out.close(reason);
  }

  /** The tunnel is gone: held MSGs are dropped unsent, their timers cleared, open files end as partial. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.verdicts.c2s.close();
    this.verdicts.s2c.close();
    this.files.endSide(null);
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
      const body = payload.subarray(mime.bodyStart);
      const end = this.files.observe(side, body);
      if (end !== null && this.holdFiles) held.end = end;
      const step = inspectP2p(hold, held, body, sender);
      return this.settle(side, step, held);
    }
    // Typing notifications (text/x-msmsgscontrol), nudges, emoticons and
    // profiles are not messages.
    const outcome = mime.contentType === 'text/plain' ? this.textMessage(side, unit, l, payload, mime.bodyStart) : PASS;
    if (!hold.active) return outcome;
    // Behind a held INVITE: decided now, queued (as rewritten, or not at all) to keep order.
    if (outcome === PASS) return this.settle(side, hold.add({ data: Buffer.from(unit) }));
    const step = outcome.replace === null ? { kind: 'held' as const } : hold.add({ data: Buffer.isBuffer(outcome.replace) ? outcome.replace : Buffer.concat(outcome.replace) });
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

  /**
   * Turns a hold step into the framer outcome: keep holding, or release what
   * is allowed. `current` is the unit the step is about: when it (or a
   * released unit) completes a scanned file it is armed in the verdict hold
   * and sent as its own piece, so the hold recognises it when forwarded.
   */
  private settle(side: Side, step: HoldStep, current?: HeldUnit): UnitOutcome {
    if (step.kind === 'pass') {
      if (current?.end === undefined) return PASS;
      this.verdicts[side].arm(current as EndUnit);
      return { replace: current.data };
    }
    if (step.kind === 'held') return { replace: null };
    // 'decide': a complete (or abandoned) INVITE, plus everything held with it.
    let release = step.release;
    const replies: Buffer[] = [];
    for (const inv of step.invites) {
      const draft = this.fileDraft(side, inv);
      const v = this.ctx.decide(draft);
      if (allowed(v)) {
        this.expectData(side, inv, draft);
        continue;
      }
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
    let replace: Buffer | Buffer[] | null = null;
    if (release.some((u) => u.end !== undefined)) {
      for (const u of release) if (u.end !== undefined) this.verdicts[side].arm(u as EndUnit);
      replace = release.map((u) => u.data);
    } else if (release.length > 0) {
      replace = Buffer.concat(release.map((u) => u.data));
    }
    const outcome: UnitOutcome = { replace };
    if (replies.length > 0) outcome.reply = Buffer.concat(replies);
    return outcome;
  }

  private fileDraft(side: Side, inv: DecidedInvite): EventDraft {
    const draft: EventDraft = { kind: 'file', side, protocol: PROTOCOL, file: inv.file, detail: { transport: 'msnslp' } };
    if (this.account !== undefined) draft.account = this.account;
    const peer = side === 'c2s' ? inv.invite.to || this.outboundPeers()[0] : inv.invite.from || inv.sender;
    if (peer !== undefined && peer.length > 0) draft.peer = passportOf(peer);
    return draft;
  }

  /** An allowed INVITE whose P2P header was read (v1 or v2): its data MSGs will be reassembled when the peer accepts. */
  private expectData(side: Side, inv: DecidedInvite, draft: EventDraft): void {
    const sessionId = parseSessionId(inv.invite.sessionId);
    if (inv.version === 0 || sessionId === null) return;
    const base: MsnFileOffer['base'] = { protocol: PROTOCOL, detail: { transport: 'msnslp' } };
    if (draft.account !== undefined) base.account = draft.account;
    if (draft.peer !== undefined) base.peer = draft.peer;
    this.files.offer({ side, sessionId, callId: inv.invite.callId, file: inv.file, base, from: inv.invite.from, to: inv.invite.to });
  }

  // ---- files refused before their last chunk ----

  /**
   * Where a direction's verdict hold sends what it releases, and how it
   * refuses a file. Both may run from a verdict's promise or a timer: a
   * throw there would be an unhandled rejection, so it closes the session.
   */
  private verdictHost(side: Side): VerdictHoldHost {
    const guard = (f: () => void): void => {
      if (this.closed) return;
      try {
        f();
      } catch (err) {
        this.close(`msnp: internal error: ${(err as Error).message}`);
      }
    };
    return {
      // The hot path (every forwarded run): no closure per call.
      forward: (d) => {
        if (this.closed) return;
        try {
          this.out.forward(side, d);
        } catch (err) {
          this.close(`msnp: internal error: ${(err as Error).message}`);
        }
      },
      drop: (u, why, rule) => guard(() => this.dropFile(side, u, why, rule)),
    };
  }

  /**
   * The MSG completing a refused file from `side` is not sent. The receiver
   * gets a BYE from the sender where that MSG would have been, the sender a
   * BYE from the receiver (libpurple: a started transfer cancelled), and a
   * local sender's MSG transaction its answer (p2p-hold's drop path).
   */
  private dropFile(side: Side, u: EndUnit, why: string, rule: string): void {
    const o = u.end.offer;
    this.ctx.log.info({ side, sessionId: o.sessionId, file: o.file.name, rule, why }, 'msnp: file refused before its last chunk');
    const local = this.account ?? 'unknown';
    const remote = o.base.peer ?? this.lastPeer ?? 'unknown';
    const sender = o.from || (side === 'c2s' ? local : remote);
    const receiver = o.to || (side === 'c2s' ? remote : local);
    const branch = `{${randomUUID().toUpperCase()}}`;
    // Each end gets the BYE in the P2P version its transfer speaks.
    const bye = u.end.version === 2 ? buildByeV2 : buildBye;
    this.out.forward(side, this.slpMsg(side, receiver, sender, bye(receiver, sender, o.callId, branch)));
    const replies: Buffer[] = [];
    if (u.ack !== undefined && /^\d{1,10}$/.test(u.ack.trid)) {
      if (u.ack.type === 'A' || u.ack.type === 'N') replies.push(Buffer.from(`NAK ${u.ack.trid}\r\n`, 'latin1'));
      else if (u.ack.type === 'D') replies.push(Buffer.from(`ACK ${u.ack.trid}\r\n`, 'latin1'));
    }
    replies.push(this.slpMsg(side === 'c2s' ? 's2c' : 'c2s', sender, receiver, bye(sender, receiver, o.callId, branch)));
    this.out.inject(side, Buffer.concat(replies));
  }

  /**
   * A P2P MSG travelling `dir` to `dest` from `from`: towards the client it
   * looks like a switchboard MSG from `from`; towards the server it is a
   * client MSG with ack type U (no ACK the real client would not expect),
   * reusing the client's last trid.
   */
  private slpMsg(dir: Side, dest: string, from: string, body: Buffer): Buffer {
    const payload = p2pMsgPayload(dest, body);
    const line = dir === 's2c' ? `MSG ${from} ${from} ${payload.length}\r\n` : `MSG ${this.lastClientTrid} U ${payload.length}\r\n`;
    return Buffer.concat([Buffer.from(line, 'utf8'), payload]);
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
