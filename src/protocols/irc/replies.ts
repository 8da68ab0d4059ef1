// The lines the gateway itself sends to an IRC client. Nicks and rule ids are
// stripped of CR/LF/space so a crafted value can never add a line.
const clean = (s: string): string => s.replace(/[\r\n\0 ]/g, '_');

export const GATEWAY_NAME = 'imgate';

export function blockedNotice(nick: string, what: string, rule: string): Buffer {
  return Buffer.from(`:${GATEWAY_NAME} NOTICE ${clean(nick)} :${what} blocked by imgate policy (rule ${clean(rule)})\r\n`);
}

export function loginRefused(): Buffer {
  return Buffer.from('ERROR :Closing Link: blocked by imgate policy\r\n');
}

export function starttlsRefused(nick: string): Buffer {
  return Buffer.from(`:${GATEWAY_NAME} 691 ${clean(nick)} :STARTTLS disabled by imgate policy\r\n`);
}
