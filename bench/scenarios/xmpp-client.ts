// A lean raw XMPP c2s client for the bench: stream open, SASL PLAIN, stream
// restart, resource binding, then <message> stanzas. No library, so the
// client's own cost is small and identical on the direct and gateway paths.
// The tunnel comes from load/handshake.ts (direct or SOCKS5).
import type net from 'node:net';
import { openTunnel, type Target } from '../load/handshake';

export interface XmppConn {
  sock: net.Socket;
  jid: string;
  /** Replaced by callers once bound: gets each <message> stanza's body text. */
  onBody: (body: string) => void;
}

const streamOpen = (domain: string): string =>
  `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

/** Logs in and binds `resource`; resolves once the bind result arrived. */
export function xmppLogin(t: Target, domain: string, user: string, password: string, resource: string, timeoutMs = 10000): Promise<XmppConn> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`xmpp ${user}: login not done in ${timeoutMs} ms`)), timeoutMs);
    openTunnel(t, (err, sock, rest) => {
      if (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      const conn: XmppConn = { sock, jid: `${user}@${domain}/${resource}`, onBody: () => undefined };
      let buf = '';
      let stage = 0;
      const feed = (d: Buffer): void => {
        buf += d.toString('utf8');
        if (stage === 0 && buf.includes('</stream:features>')) {
          stage = 1;
          buf = '';
          const b64 = Buffer.from(`\0${user}\0${password}`).toString('base64');
          sock.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${b64}</auth>`);
        } else if (stage === 1 && /<success\b/.test(buf)) {
          stage = 2;
          buf = '';
          sock.write(streamOpen(domain));
        } else if (stage === 1 && /<failure\b/.test(buf)) {
          clearTimeout(timer);
          reject(new Error(`xmpp ${user}: SASL failure ${buf.slice(0, 200)}`));
        } else if (stage === 2 && buf.includes('</stream:features>')) {
          stage = 3;
          buf = '';
          sock.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
        } else if (stage === 3 && buf.includes('</iq>')) {
          stage = 4;
          buf = '';
          clearTimeout(timer);
          sock.removeListener('data', feed);
          attachBodies(conn);
          resolve(conn);
        }
      };
      sock.on('data', feed);
      sock.on('error', (e) => reject(e));
      sock.write(streamOpen(domain));
      if (rest.length) feed(rest);
    });
  });
}

/** Splits the stream into <message> stanzas and hands their body text on. */
function attachBodies(c: XmppConn): void {
  let pending = '';
  c.sock.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    let end: number;
    while ((end = pending.indexOf('</message>')) >= 0) {
      const stanza = pending.slice(0, end);
      pending = pending.slice(end + 10);
      const b = stanza.lastIndexOf('<body>');
      const e = stanza.lastIndexOf('</body>');
      if (b >= 0 && e > b) c.onBody(stanza.slice(b + 6, e));
    }
  });
}
