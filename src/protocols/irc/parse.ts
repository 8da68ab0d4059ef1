// Parses one IRC line (RFC 1459/2812 with IRCv3 message tags) into offsets,
// as an explicit state machine over the bytes. Nothing is decoded or copied
// except the prefix and command: params stay offsets into the line so the
// session can decode only what it inspects and rewrite one param in place.
// Lenient the way real servers and the zeek whitespace capture need: leading
// blanks, runs of spaces between params, trailing blanks, bare LF.

export interface IrcParam {
  start: number;
  end: number;
}

export interface IrcLine {
  /** Raw tag section without '@' (undefined when the line has none). */
  tags?: string;
  /** Prefix without ':' (e.g. "nick!user@host" or a server name). */
  prefix?: string;
  /** Command, upper-cased ("PRIVMSG", "001"); '' for a blank line. */
  command: string;
  params: IrcParam[];
  /** The last param was introduced by ':' (may contain spaces). */
  trailing: boolean;
}

const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const AT = 0x40;
const CR = 0x0d;
const LF = 0x0a;

/** Most params a line may carry (RFC 2812 says 15; be generous, stay bounded). */
const MAX_PARAMS = 64;

const enum St {
  Start,
  Tags,
  PrefixOrCommand,
  Prefix,
  Command,
  BeforeParam,
  Param,
  Trailing,
}

/** Index just past the last content byte (CR/LF stripped). */
export function contentEnd(line: Buffer): number {
  let end = line.length;
  if (end > 0 && line[end - 1] === LF) end--;
  if (end > 0 && line[end - 1] === CR) end--;
  return end;
}

const isBlank = (b: number): boolean => b === SP || b === TAB;

export function parseLine(line: Buffer, end = contentEnd(line)): IrcLine {
  const out: IrcLine = { command: '', params: [], trailing: false };
  let st: St = St.Start;
  let mark = 0;
  let i = 0;
  for (; i < end; i++) {
    const b = line[i] as number;
    switch (st) {
      case St.Start:
        if (isBlank(b) || b === CR) continue;
        if (b === AT) {
          st = St.Tags;
          mark = i + 1;
        } else {
          st = St.PrefixOrCommand;
          i--;
        }
        break;
      case St.Tags:
        if (b === SP) {
          out.tags = line.toString('latin1', mark, i);
          st = St.PrefixOrCommand;
        }
        break;
      case St.PrefixOrCommand:
        if (isBlank(b)) continue;
        if (b === COLON) {
          st = St.Prefix;
          mark = i + 1;
        } else {
          st = St.Command;
          mark = i;
        }
        break;
      case St.Prefix:
        if (isBlank(b)) {
          out.prefix = line.toString('utf8', mark, i);
          st = St.Command;
          mark = -1;
        }
        break;
      case St.Command:
        if (mark < 0) {
          if (isBlank(b)) continue;
          mark = i;
        } else if (isBlank(b)) {
          out.command = line.toString('latin1', mark, i).toUpperCase();
          st = St.BeforeParam;
        }
        break;
      case St.BeforeParam:
        if (isBlank(b)) continue;
        if (out.params.length >= MAX_PARAMS) {
          i = end;
          break;
        }
        if (b === COLON) {
          out.trailing = true;
          out.params.push({ start: i + 1, end });
          st = St.Trailing;
          i = end;
        } else {
          st = St.Param;
          mark = i;
        }
        break;
      case St.Param:
        if (isBlank(b)) {
          out.params.push({ start: mark, end: i });
          st = St.BeforeParam;
        }
        break;
      case St.Trailing:
        break;
    }
  }
  // Close whatever token the line ended in.
  if (st === St.Tags) out.tags = line.toString('latin1', mark, end);
  else if (st === St.Prefix) out.prefix = line.toString('utf8', mark, end);
  else if (st === St.Command && mark >= 0) out.command = line.toString('latin1', mark, end).toUpperCase();
  else if (st === St.Param) out.params.push({ start: mark, end });
  return out;
}

export function paramText(line: Buffer, p: IrcParam | undefined): string {
  return p === undefined ? '' : line.toString('utf8', p.start, p.end);
}

/** The nick part of a "nick!user@host" prefix. */
export function prefixNick(prefix: string | undefined): string | undefined {
  if (prefix === undefined) return undefined;
  const bang = prefix.indexOf('!');
  const at = prefix.indexOf('@');
  const cut = bang >= 0 ? bang : at;
  return cut >= 0 ? prefix.slice(0, cut) : prefix;
}

/** A prefix that names a user (nick!user@host), not a server. */
export function isUserPrefix(prefix: string | undefined): boolean {
  return prefix !== undefined && (prefix.includes('!') || prefix.includes('@'));
}

export function isChannel(target: string): boolean {
  const c = target.charCodeAt(0);
  // # & + ! are the RFC 2812 channel prefixes.
  return c === 0x23 || c === 0x26 || c === 0x2b || c === 0x21;
}
