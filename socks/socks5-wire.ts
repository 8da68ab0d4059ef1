// SOCKS5 (RFC 1928) and username/password (RFC 1929) message parsers and
// reply builders. Pure functions over a buffer + offset: no I/O, so the door
// can drive them as a state machine and the fuzz test can hammer them.
// Every message has a bounded size (greeting <= 257, auth <= 513,
// request <= 262 bytes), so a parser answers 'need' only while fewer than
// MAX_MESSAGE_BYTES are pending.
import { isIP } from 'node:net';
import type { Destination, RefusalReason } from './types';
import { SOCKS_REPLY_CODE } from './refusal';
import { addressBytes, formatIpv4, formatIpv6 } from './ip';

export const MAX_MESSAGE_BYTES = 513;

export const METHOD_NONE = 0x00;
export const METHOD_USERPASS = 0x02;
export const METHOD_NO_ACCEPTABLE = 0xff;

const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

// Letters, digits, '-', '_' and dots: what a DNS name (or an IDN in punycode)
// can hold. Anything else is refused before it reaches rules, logs or DNS.
const DOMAIN_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_.])?$/;

export type GreetingResult =
  | { kind: 'need' }
  | { kind: 'greeting'; methods: Buffer; end: number }
  | { kind: 'bad'; detail: string };

export function parseGreeting(b: Buffer, off: number): GreetingResult {
  const avail = b.length - off;
  if (avail < 1) return { kind: 'need' };
  const ver = b[off];
  if (ver !== 5) {
    return { kind: 'bad', detail: ver === 4 ? 'SOCKS4 request (only SOCKS5 is served)' : `bad version byte 0x${hex(ver)}` };
  }
  if (avail < 2) return { kind: 'need' };
  const n = b[off + 1] as number;
  if (avail < 2 + n) return { kind: 'need' };
  return { kind: 'greeting', methods: b.subarray(off + 2, off + 2 + n), end: off + 2 + n };
}

export type UserPassResult =
  | { kind: 'need' }
  | { kind: 'creds'; user: string; password: string; end: number }
  | { kind: 'bad'; detail: string };

export function parseUserPass(b: Buffer, off: number): UserPassResult {
  const avail = b.length - off;
  if (avail < 1) return { kind: 'need' };
  if (b[off] !== 0x01) return { kind: 'bad', detail: `bad RFC 1929 version 0x${hex(b[off])}` };
  if (avail < 2) return { kind: 'need' };
  const ulen = b[off + 1] as number;
  if (avail < 3 + ulen) return { kind: 'need' };
  const plen = b[off + 2 + ulen] as number;
  const end = off + 3 + ulen + plen;
  if (b.length < end) return { kind: 'need' };
  return {
    kind: 'creds',
    user: b.toString('utf8', off + 2, off + 2 + ulen),
    password: b.toString('utf8', off + 3 + ulen, end),
    end,
  };
}

export type RequestResult =
  | { kind: 'need' }
  | { kind: 'connect'; destination: Destination; end: number }
  /** Answer with this reason's reply, then close. */
  | { kind: 'refuse'; reason: RefusalReason; detail: string };

export function parseRequest(b: Buffer, off: number): RequestResult {
  const avail = b.length - off;
  if (avail < 1) return { kind: 'need' };
  if (b[off] !== 5) return { kind: 'refuse', reason: 'general-failure', detail: `bad request version 0x${hex(b[off])}` };
  if (avail < 4) return { kind: 'need' };
  const cmd = b[off + 1] as number;
  const atyp = b[off + 3];
  let addrEnd: number;
  if (atyp === ATYP_IPV4) addrEnd = off + 8;
  else if (atyp === ATYP_IPV6) addrEnd = off + 20;
  else if (atyp === ATYP_DOMAIN) {
    if (avail < 5) return { kind: 'need' };
    addrEnd = off + 5 + (b[off + 4] as number);
  } else {
    return { kind: 'refuse', reason: 'address-type-not-supported', detail: `address type 0x${hex(atyp)}` };
  }
  const end = addrEnd + 2;
  if (b.length < end) return { kind: 'need' };
  // The whole request is read before refusing a command, so the reply is
  // never sent in the middle of the client's message.
  if (cmd !== CMD_CONNECT) {
    const name = cmd === 2 ? 'BIND' : cmd === 3 ? 'UDP ASSOCIATE' : `0x${hex(cmd)}`;
    return { kind: 'refuse', reason: 'command-not-supported', detail: `command ${name}` };
  }
  const port = b.readUInt16BE(addrEnd);
  let destination: Destination;
  if (atyp === ATYP_IPV4) destination = { host: formatIpv4(b, off + 4), port, type: 'ipv4' };
  else if (atyp === ATYP_IPV6) destination = { host: formatIpv6(b, off + 4), port, type: 'ipv6' };
  else {
    const name = b.toString('latin1', off + 5, addrEnd);
    if (!DOMAIN_RE.test(name) || name.length > 253) {
      return { kind: 'refuse', reason: 'general-failure', detail: `malformed domain name (${name.length} bytes)` };
    }
    // A literal sent as a name is classified as what it is, so CIDR rules
    // cannot be sidestepped by sending "10.0.0.1" with ATYP domain.
    const ipType = isIP(name);
    destination = { host: name, port, type: ipType === 4 ? 'ipv4' : ipType === 6 ? 'ipv6' : 'domain' };
  }
  if (port === 0) return { kind: 'refuse', reason: 'general-failure', detail: 'destination port 0' };
  return { kind: 'connect', destination, end };
}

function hex(n: number | undefined): string {
  return (n ?? 0).toString(16).padStart(2, '0');
}

export const METHOD_REPLY_NONE = Buffer.from([5, METHOD_NONE]);
export const METHOD_REPLY_USERPASS = Buffer.from([5, METHOD_USERPASS]);
export const METHOD_REPLY_NO_ACCEPTABLE = Buffer.from([5, METHOD_NO_ACCEPTABLE]);
export const AUTH_OK = Buffer.from([1, 0]);
export const AUTH_FAILED = Buffer.from([1, 1]);

// Refusals carry BND 0.0.0.0:0 (RFC 1928 §6: full reply, IPv4 ATYP).
const REFUSAL_REPLIES = new Map<RefusalReason, Buffer>(
  (Object.keys(SOCKS_REPLY_CODE) as RefusalReason[]).map((r) => [
    r,
    Buffer.from([5, SOCKS_REPLY_CODE[r], 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0]),
  ]),
);

/** The 10-byte reply for a refusal. Shared instances: never mutate. */
export function refusalReply(reason: RefusalReason): Buffer {
  return REFUSAL_REPLIES.get(reason) as Buffer;
}

/** Success reply carrying the upstream socket's bound address. */
export function successReply(address: string | undefined, port: number | undefined): Buffer {
  const { atyp, bytes } = addressBytes(address);
  const out = Buffer.allocUnsafe(6 + bytes.length);
  out[0] = 5;
  out[1] = 0;
  out[2] = 0;
  out[3] = atyp;
  bytes.copy(out, 4);
  out.writeUInt16BE(port ?? 0, 4 + bytes.length);
  return out;
}
