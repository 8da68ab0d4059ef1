// Who is logging in, read from the SASL exchange before the server answers:
// PLAIN (authcid in the initial response), SCRAM-* (n= in client-first) and
// DIGEST-MD5 (username= in the first response). Passwords are never kept.

function b64(text: string): string | null {
  const t = text.trim();
  if (t === '' || t === '=' || !/^[A-Za-z0-9+/=\s]*$/.test(t)) return null;
  return Buffer.from(t, 'base64').toString('utf8');
}

function scramName(v: string): string {
  return v.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** The authentication identity carried by an <auth> initial response, if any. */
export function authIdentity(mechanism: string, payload: string): string | null {
  const m = mechanism.toUpperCase();
  const raw = b64(payload);
  if (raw === null) return null;
  if (m === 'PLAIN') {
    const parts = raw.split('\0');
    if (parts.length !== 3) return null;
    return parts[1] || parts[0] || null;
  }
  if (m.startsWith('SCRAM-')) {
    const n = /(?:^|,)n=([^,]*)/.exec(raw.replace(/^[^,]*,[^,]*,/, ','));
    return n && n[1] ? scramName(n[1]) : null;
  }
  return null;
}

/** DIGEST-MD5's username from a <response>, if any. */
export function digestIdentity(payload: string): string | null {
  const raw = b64(payload);
  if (raw === null) return null;
  const u = /(?:^|,)\s*username="((?:[^"\\]|\\.)*)"/.exec(raw);
  return u && u[1] ? u[1].replace(/\\(.)/g, '$1') : null;
}

export function bareJid(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}
