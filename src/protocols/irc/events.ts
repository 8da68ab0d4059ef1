// Turns one PRIVMSG/NOTICE text into the event drafts the policy sees:
// plain text, CTCP ACTION (a message), other CTCPs, and DCC offers.
import type { EventDraft, Side } from '../types';
import { parseCtcp, parseDcc, type DccOfferFields } from './ctcp';

export const PROTOCOL = 'irc';

export interface MessageInfo {
  side: Side;
  account: string | undefined;
  /** The other party for this target (target for c2s, sender nick for s2c). */
  peer: string | undefined;
  /**
   * Channel the message went to (s2c channel messages). It becomes the
   * event's peer, so a channel is one conversation both ways; the sender's
   * nick moves to detail.from.
   */
  channel?: string;
  command: 'PRIVMSG' | 'NOTICE';
  text: string;
}

export interface TextEvent {
  draft: EventDraft;
  /** Where the redactable text sits inside the decoded param (null: not redactable). */
  textRange: [number, number] | null;
  dcc?: DccOfferFields;
}

export function messageEvent(m: MessageInfo): TextEvent {
  const draft: EventDraft = { kind: 'message', side: m.side, protocol: PROTOCOL };
  if (m.account !== undefined) draft.account = m.account;
  const detail: Record<string, string | number | boolean> = {};
  if (m.channel !== undefined) {
    draft.peer = m.channel;
    detail.channel = m.channel;
    if (m.peer !== undefined) detail.from = m.peer;
  } else if (m.peer !== undefined) {
    draft.peer = m.peer;
  }
  if (m.command === 'NOTICE') detail.notice = true;
  const ctcp = parseCtcp(m.text);
  let textRange: [number, number] | null = [0, m.text.length];
  if (ctcp === null) {
    draft.text = m.text;
  } else if (ctcp.command === 'ACTION') {
    draft.text = ctcp.args;
    detail.ctcp = 'ACTION';
    textRange = [ctcp.argsStart, ctcp.argsEnd];
  } else if (ctcp.command === 'DCC') {
    textRange = null;
    const dcc = parseDcc(ctcp.args);
    detail.ctcp = 'DCC';
    if (dcc !== null) {
      detail.dcc = dcc.type;
      if (dcc.address !== undefined) detail.address = dcc.address;
      if (dcc.port !== undefined) detail.port = dcc.port;
      if (dcc.malformed !== undefined) detail.malformed = dcc.malformed;
      if (dcc.type === 'SEND') {
        draft.kind = 'file';
        draft.file = dcc.size === undefined ? { name: dcc.argument } : { name: dcc.argument, size: dcc.size };
      } else if (dcc.type === 'CHAT') {
        // A DCC CHAT offer opens a direct chat with the peer: it is recorded
        // as a 'message' (no text), so per-peer message rules cover it.
        detail.chat = dcc.argument;
      } else {
        draft.kind = 'unknown';
        if (dcc.argument) detail.argument = dcc.argument.slice(0, 256);
      }
      if (Object.keys(detail).length > 0) draft.detail = detail;
      return { draft, textRange, dcc };
    }
    draft.kind = 'unknown';
  } else {
    // VERSION, PING, TIME, CLIENTINFO...: recorded, not messages.
    draft.kind = 'unknown';
    detail.ctcp = ctcp.command.slice(0, 32);
    if (ctcp.args) draft.text = ctcp.args;
    textRange = null;
  }
  if (Object.keys(detail).length > 0) draft.detail = detail;
  return { draft, textRange };
}
