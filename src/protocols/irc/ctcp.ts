// CTCP inside PRIVMSG/NOTICE text (\x01CMD args\x01) and the DCC offers it
// carries. DCC SEND file names may be quoted ("a b.txt") or, from some
// clients, unquoted with spaces: the address/port/size fields are then found
// from the right. Addresses come as a decimal IPv4 integer, an IPv6 literal,
// or (some clients) a dotted quad.

export interface Ctcp {
  /** Upper-cased CTCP command, e.g. ACTION, VERSION, DCC. */
  command: string;
  /** Everything after the command (may be ''). */
  args: string;
  /** Offsets of args inside the decoded text, for in-place redaction. */
  argsStart: number;
  argsEnd: number;
}

const CTCP_DELIM = '\x01';

export function parseCtcp(text: string): Ctcp | null {
  if (!text.startsWith(CTCP_DELIM)) return null;
  let end = text.indexOf(CTCP_DELIM, 1);
  if (end < 0) end = text.length; // the closing \x01 is optional in practice
  const sp = text.indexOf(' ', 1);
  const cmdEnd = sp >= 0 && sp < end ? sp : end;
  const command = text.slice(1, cmdEnd).toUpperCase();
  if (command.length === 0) return null;
  const argsStart = cmdEnd < end ? cmdEnd + 1 : end;
  return { command, args: text.slice(argsStart, end), argsStart, argsEnd: end };
}

export type DccType = 'SEND' | 'CHAT' | string;

export interface DccOfferFields {
  type: DccType;
  /** File name (SEND) or protocol word (CHAT: usually "chat"). */
  argument: string;
  /** Normalised address: dotted IPv4 or lower-case IPv6; undefined when malformed. */
  address?: string;
  port?: number;
  size?: number;
  /** Why the offer's address or port could not be used for correlation. */
  malformed?: 'host' | 'port' | 'fields';
}

const DIGITS = /^\d+$/;

export function decodeDccAddress(field: string): string | undefined {
  if (DIGITS.test(field)) {
    if (field.length > 10) return undefined;
    const n = Number(field);
    if (n > 0xffffffff) return undefined;
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(field)) {
    return field.split('.').every((o) => Number(o) <= 255) ? field : undefined;
  }
  if (field.includes(':') && /^[0-9a-fA-F:.]+$/.test(field) && field.length <= 45) return field.toLowerCase();
  return undefined;
}

function parsePort(field: string | undefined): number | undefined {
  if (field === undefined || !DIGITS.test(field) || field.length > 5) return undefined;
  const n = Number(field);
  return n <= 65535 ? n : undefined;
}

function parseSize(field: string | undefined): number | undefined {
  if (field === undefined || !DIGITS.test(field) || field.length > 16) return undefined;
  return Number(field);
}

/** True when tokens[k..] look like "address port [size [token]]". */
function looksLikeTail(tokens: string[], k: number): boolean {
  const n = tokens.length - k;
  if (n < 2 || n > 4) return false;
  const addr = tokens[k] as string;
  if (!(DIGITS.test(addr) || addr.includes(':') || /^\d{1,3}(\.\d{1,3}){3}$/.test(addr))) return false;
  for (let i = k + 1; i < tokens.length; i++) if (!DIGITS.test(tokens[i] as string)) return false;
  return true;
}

/** args = what follows "DCC " in the CTCP. */
export function parseDcc(args: string): DccOfferFields | null {
  const sp = args.indexOf(' ');
  const type = (sp < 0 ? args : args.slice(0, sp)).toUpperCase();
  if (type.length === 0) return null;
  const rest = sp < 0 ? '' : args.slice(sp + 1);
  let argument: string;
  let tail: string[];
  if (rest.startsWith('"')) {
    const close = rest.indexOf('"', 1);
    if (close < 0) return { type, argument: rest.slice(1), malformed: 'fields' };
    argument = rest.slice(1, close);
    tail = rest.slice(close + 1).trim().split(' ');
  } else {
    // Single spaces on purpose: "file.txt  5000 1024" has an EMPTY host field
    // (zeek's malformed-host capture), which must not shift the fields left.
    const tokens = rest.split(' ');
    let k = 1;
    // An unquoted name with spaces: look further right for the fields, but
    // never when a field is empty (that offer is malformed, not a long name).
    if (!looksLikeTail(tokens, 1) && !tokens.includes('')) {
      k = 2;
      while (k < tokens.length && !looksLikeTail(tokens, k)) k++;
      if (k >= tokens.length) k = 1;
    }
    k = Math.min(k, tokens.length);
    argument = tokens.slice(0, k).join(' ');
    tail = tokens.slice(k);
  }
  const out: DccOfferFields = { type, argument };
  const [addrField, portField, sizeField] = tail;
  const address = addrField === undefined ? undefined : decodeDccAddress(addrField);
  const port = parsePort(portField);
  const size = parseSize(sizeField);
  if (address !== undefined) out.address = address;
  if (port !== undefined) out.port = port;
  if (size !== undefined) out.size = size;
  if (address === undefined) out.malformed = 'host';
  else if (port === undefined) out.malformed = 'port';
  return out;
}
