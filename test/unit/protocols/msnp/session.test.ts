// Synthetic switchboard and notification sessions through the msnp
// dissector with the real policy engine: what reaches each end.
import { parseSlpInvite, parseP2pHeader, P2P_HEADER_BYTES } from '../../../../src/protocols/msnp';
import { clientMsg, Harness, serverMsg } from './harness';
import { CALL_ID, BRANCH, inviteText, p2pMsgs } from './slp-fixture';

const B = 'tesla_brian@hotmail.com';
const T = 'tesla_thomas@hotmail.com';

/** The start of the chrissanders switchboard session (README lines). */
function switchboard(h: Harness): Harness {
  return h
    .client(`USR 93 ${B} 1835953129.20013021.2623242\r\n`)
    .server(`USR 93 OK ${B} Brian\r\n`)
    .client(`CAL 94 ${T}\r\n`)
    .server('CAL 94 RINGING 1835953129\r\n')
    .server(`JOI ${T} Thomas 1616756780\r\n`);
}

const texts = (h: Harness): Array<[string, string | undefined, string | undefined, string | undefined]> =>
  h.ofKind('message').map((e) => [e.draft.side, e.draft.account, e.draft.peer, e.draft.text]);

describe('msnp session: messages', () => {
  it('allowed traffic passes byte for byte, with events for login and text only (not typing)', () => {
    const h = switchboard(new Harness());
    const typing = Buffer.from(`MSG 95 U 96\r\nMIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: ${B}\r\n\r\n\r\n`);
    const out = [typing, clientMsg(96, 'N', 'Hey Brian')];
    const inb = serverMsg(T, 'Thomas', 'Hey man, whats up?');
    for (const b of out) h.client(b);
    h.server(inb);
    expect(h.serverGot).toBe(`USR 93 ${B} 1835953129.20013021.2623242\r\nCAL 94 ${T}\r\n` + Buffer.concat(out).toString('latin1'));
    expect(h.clientGot).toBe(`USR 93 OK ${B} Brian\r\nCAL 94 RINGING 1835953129\r\nJOI ${T} Thomas 1616756780\r\n` + inb.toString('latin1'));
    expect(h.ofKind('login').map((e) => [e.draft.account, e.draft.detail?.server])).toEqual([[B, 'SB']]);
    expect(texts(h)).toEqual([
      ['c2s', B, T, 'Hey Brian'],
      ['s2c', B, T, 'Hey man, whats up?'],
    ]);
  });

  it('split at every byte boundary: same events, same bytes', () => {
    const whole = Buffer.concat([Buffer.from(`ANS 1 ${B} 111.222 333\r\n`), clientMsg(2, 'N', 'héllo wörld'), Buffer.from('OUT\r\n')]);
    for (let cut = 1; cut < whole.length; cut++) {
      const h = new Harness();
      h.server(`IRO 1 1 1 ${T} Thomas\r\n`);
      h.client(whole.subarray(0, cut)).client(whole.subarray(cut));
      expect(Buffer.concat(h.toServer).equals(whole)).toBe(true);
      expect(texts(h)).toEqual([['c2s', B, T, 'héllo wörld']]);
    }
  });

  it('byte by byte', () => {
    const h = new Harness();
    h.client(`USR 7 ${B} 1.2\r\n`);
    const rest = Buffer.concat([Buffer.from('USR 7 OK x y\r\n'), serverMsg(T, 'Thomas', 'one'), serverMsg(T, 'Thomas', 'two')]);
    for (const b of rest) h.server(Buffer.from([b]));
    expect((h.session as unknown as { bufferedBytes: number }).bufferedBytes).toBe(0);
    expect(h.clientGot).toBe(rest.toString('latin1'));
    expect(texts(h).map((t) => t[3])).toEqual(['one', 'two']);
  });

  it('a blocked outbound MSG (ack N) is not forwarded and the client gets NAK trid', () => {
    const h = switchboard(new Harness());
    const before = h.serverGot;
    h.client(Buffer.concat([clientMsg(99, 'N', 'about Project Falcon'), clientMsg(100, 'N', 'still here')]));
    expect(h.serverGot).toBe(before + clientMsg(100, 'N', 'still here').toString('latin1'));
    expect(Buffer.concat(h.injectedToClient).toString()).toBe('NAK 99\r\n');
    expect(h.events.filter((e) => e.verdict.action === 'block').map((e) => e.verdict.rule)).toEqual(['no-falcon']);
    expect(h.closed).toBeUndefined();
  });

  it('ack A gets a NAK too, ack U gets nothing', () => {
    const h = switchboard(new Harness());
    h.client(clientMsg(5, 'A', 'project falcon')).client(clientMsg(6, 'U', 'PROJECT  FALCON'));
    expect(Buffer.concat(h.injectedToClient).toString()).toBe('NAK 5\r\n');
    expect(h.serverGot).not.toContain('MSG 5 ');
    expect(h.serverGot).not.toContain('MSG 6 ');
  });

  it('a blocked inbound MSG is dropped, the rest of the stream intact', () => {
    const h = switchboard(new Harness());
    const before = h.clientGot;
    const ok = serverMsg(T, 'Thomas', 'fine');
    h.server(Buffer.concat([serverMsg(T, 'Thomas', 'project falcon details'), ok]));
    expect(h.clientGot).toBe(before + ok.toString('latin1'));
    expect(h.injectedToClient).toHaveLength(0);
  });

  it('redact rewrites the body and fixes the length; headers and everything else are byte-identical', () => {
    const h = switchboard(new Harness());
    const before = h.serverGot;
    h.client(clientMsg(101, 'N', 'card 4111 1111 1111 1111 thanks'));
    const expected = clientMsg(101, 'N', 'card **** thanks');
    expect(h.serverGot).toBe(before + expected.toString('latin1'));
    // The declared length matches the rewritten payload.
    const got = Buffer.from(h.serverGot.slice(before.length), 'latin1');
    const lf = got.indexOf('\n');
    expect(Number(got.toString('latin1', 0, lf - 1).split(' ')[3])).toBe(got.length - lf - 1);
    // Inbound too.
    const cbefore = h.clientGot;
    h.server(serverMsg(T, 'Thomas', 'mine is 4111-1111-1111-1111'));
    expect(h.clientGot).toBe(cbefore + serverMsg(T, 'Thomas', 'mine is ****').toString('latin1'));
  });
});

describe('msnp session: login', () => {
  it('NS login USR TWN I passport is an account; versions recorded', () => {
    const h = new Harness();
    h.client('VER 1 MSNP8 CVR0\r\n').server('VER 1 MSNP8 CVR0\r\n').client('CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0208 MSMSGS someone@hotmail.com\r\n');
    h.client('USR 3 TWN I someone@hotmail.com\r\n');
    expect(h.ofKind('login').map((e) => [e.draft.account, e.draft.detail?.server, e.draft.detail?.auth, e.draft.detail?.versions])).toEqual([
      ['someone@hotmail.com', 'NS', 'TWN', 'MSNP8 CVR0'],
    ]);
  });

  it('MSNP15+ SSO login of a banned account: 911 trid to the client, never forwarded, closed', () => {
    const h = new Harness();
    h.client('VER 1 MSNP18 CVR0\r\n').client('USR 3 SSO I mallory@hotmail.com\r\n');
    expect(h.serverGot).toBe('VER 1 MSNP18 CVR0\r\n');
    expect(Buffer.concat(h.injectedToClient).toString()).toBe('911 3\r\n');
    expect(h.closed).toMatch(/login of mallory@hotmail.com blocked by policy \(rule banned-account\)/);
    h.client('USR 4 SSO S t=ticket\r\n');
    expect(h.serverGot).toBe('VER 1 MSNP18 CVR0\r\n');
  });

  it('switchboard ANS of a banned account is refused the same way', () => {
    const h = new Harness();
    h.client('ANS 1 mallory@hotmail.com 849102291.520491113 11752013\r\n');
    expect(h.serverGot).toBe('');
    expect(Buffer.concat(h.injectedToClient).toString()).toBe('911 1\r\n');
    expect(h.closed).toBeDefined();
  });
});

describe('msnp session: framing', () => {
  it('payload commands of either direction stream through, including QRY (client only) and error payloads', () => {
    const h = new Harness({ default: 'allow', rules: [] });
    const c2s = [
      'VER 1 MSNP15 CVR0\r\n',
      'QRY 10 PROD0114ES4Z%Q5W 32\r\n0123456789abcdef0123456789abcdef',
      'UUX 11 30\r\n<Data><PSM>MSG 1 N 3</PSM></Data>',
      'ADL 12 20\r\n<ml l="1">MSG 9 N 9\r\n</ml>'.slice(0, 'ADL 12 20\r\n'.length + 20),
      'PNG\r\n',
    ].join('');
    const s2c = [
      'QRY 10\r\n',
      'UUX 11 0\r\n',
      'ADL 12 OK\r\n',
      'UBX 1:bob@hotmail.com 22\r\n<Data>MSG 1 2 3</Data>',
      'NOT 10\r\nMSG 1 2 3\n',
      '241 13 9\r\n<ml></ml>',
      '911 14\r\n',
      'QNG 50\r\n',
      serverMsg('Hotmail', 'Hotmail', 'hi', 'text/plain').toString('latin1'),
    ].join('');
    h.client(c2s).server(s2c);
    expect(h.serverGot).toBe(c2s);
    expect(h.clientGot).toBe(s2c);
    expect(h.closed).toBeUndefined();
    // Only the real MSG was a message; the 'MSG' look-alikes inside payloads were not parsed as commands.
    expect(texts(h)).toEqual([['s2c', undefined, 'Hotmail', 'hi']]);
  });

  it('a payload over maxUnitBytes closes the tunnel before anything is buffered', () => {
    const h = new Harness(undefined, { maxUnitBytes: 4096 });
    h.client(`USR 1 ${B} 1.2\r\n`);
    h.client('MSG 2 N 5000\r\nMIME-Version: 1.0\r\n');
    expect(h.closed).toMatch(/MSG unit of 5014 bytes over maxUnitBytes \(4096\)/);
    expect((h.session as unknown as { bufferedBytes: number }).bufferedBytes).toBe(0);
    expect(h.serverGot).toBe(`USR 1 ${B} 1.2\r\n`);
  });

  it('an endless line closes at the line limit', () => {
    const h = new Harness(undefined, { maxUnitBytes: 1 << 20 });
    for (let i = 0; i < 40 && h.closed === undefined; i++) h.client(Buffer.alloc(1024, 0x41));
    expect(h.closed).toMatch(/command line over 16384 bytes/);
    expect((h.session as unknown as { bufferedBytes: number }).bufferedBytes).toBe(0);
  });

  it('a malformed length on a payload command closes with the command named', () => {
    const h = new Harness();
    h.client('MSG 1 N 12x\r\n');
    expect(h.closed).toBe('msnp: MSG with a malformed payload length');
  });

  it('an incomplete payload at FIN is dropped, not smuggled', () => {
    const h = new Harness();
    h.client('MSG 1 N 500\r\nMIME-Version: 1.0\r\nproject falcon');
    h.session.end('c2s');
    expect(h.serverGot).toBe('');
  });
});

describe('msnp session: MSNSLP file transfer', () => {
  const A = 'alice@hotmail.com';
  const Bob = 'bob@hotmail.com';

  it('an outbound file INVITE (split over two P2P chunks) is a file event with name and size; blocked: dropped, ACK D, 603 Decline to the client', () => {
    const h = new Harness();
    h.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`).server(`JOI ${Bob} Bob\r\n`);
    const msgs = p2pMsgs(inviteText(A, Bob, 'Budget 2024 – final.xlsx', 123456789), { id: 200, dest: Bob, chunk: 700, client: { trid: 3 } });
    expect(msgs.length).toBe(2);
    const before = h.serverGot;
    h.client(msgs[0] as Buffer);
    // Held while incomplete: nothing of it reached the server yet.
    expect(h.serverGot).toBe(before);
    const after = clientMsg(9, 'N', 'did you get it?');
    h.client(Buffer.concat([msgs[1] as Buffer, after]));
    const files = h.ofKind('file');
    expect(files.map((e) => [e.draft.side, e.draft.account, e.draft.peer, e.draft.file, e.verdict.rule])).toEqual([
      ['c2s', A, Bob, { name: 'Budget 2024 – final.xlsx', size: 123456789 }, 'no-files-on-msn'],
    ]);
    expect(h.serverGot).toBe(before + after.toString('latin1'));
    const injected = Buffer.concat(h.injectedToClient);
    const text = injected.toString('latin1');
    expect(text.startsWith('ACK 3\r\nACK 4\r\nMSG bob@hotmail.com bob@hotmail.com ')).toBe(true);
    // The 603 is a well-formed P2P SLP message answering this INVITE.
    const msgStart = text.indexOf('MSG ');
    const lf = text.indexOf('\r\n', msgStart);
    const len = Number(text.slice(msgStart, lf).split(' ')[3]);
    const payload = injected.subarray(lf + 2);
    expect(payload.length).toBe(len);
    const body = payload.subarray(payload.indexOf('\r\n\r\n') + 4);
    const hdr = parseP2pHeader(body);
    expect(hdr).not.toBeNull();
    const slp = body.toString('utf8', P2P_HEADER_BYTES, P2P_HEADER_BYTES + (hdr?.length ?? 0));
    expect(slp.startsWith('MSNSLP/1.0 603 Decline\r\n')).toBe(true);
    expect(slp).toContain(`Call-ID: ${CALL_ID}\r\n`);
    expect(slp).toContain(`branch=${BRANCH}`);
    expect(slp).toContain(`To: <msnmsgr:${A}>`);
    expect(slp).toContain('SessionID: 4711');
  });

  it('an allowed INVITE is released byte-identical and in order with what was held behind it', () => {
    const h = new Harness({ default: 'allow', rules: [] });
    h.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`);
    const msgs = p2pMsgs(inviteText(A, Bob, 'photo.jpg', 2048), { id: 7, dest: Bob, chunk: 700, client: { trid: 3 } });
    const mid = clientMsg(5, 'N', 'between');
    const stream = Buffer.concat([msgs[0] as Buffer, mid, msgs[1] as Buffer, Buffer.from('OUT\r\n')]);
    h.client(stream);
    expect(h.serverGot).toBe(`USR 1 ${A} 1.2\r\nCAL 2 ${Bob}\r\n` + stream.toString('latin1'));
    expect(h.ofKind('file').map((e) => e.draft.file)).toEqual([{ name: 'photo.jpg', size: 2048 }]);
    // The message held behind the INVITE was still inspected.
    expect(texts(h).map((t) => t[3])).toEqual(['between']);
  });

  it('a banned text held behind an INVITE is still blocked (NAK), the INVITE released after it completes', () => {
    const h = new Harness({ default: 'allow', rules: [{ id: 'no-falcon', when: { kind: ['message'], text_matches: ['(?i)falcon'] }, then: 'block' }] });
    h.client(`USR 1 ${A} 1.2\r\n`).client(`CAL 2 ${Bob}\r\n`);
    const msgs = p2pMsgs(inviteText(A, Bob, 'photo.jpg', 2048), { id: 7, dest: Bob, chunk: 700, client: { trid: 3 } });
    h.client(msgs[0] as Buffer).client(clientMsg(5, 'N', 'falcon')).client(msgs[1] as Buffer);
    expect(h.serverGot).toBe(`USR 1 ${A} 1.2\r\nCAL 2 ${Bob}\r\n` + Buffer.concat(msgs).toString('latin1'));
    expect(Buffer.concat(h.injectedToClient).toString()).toBe('NAK 5\r\n');
  });

  it('an inbound file INVITE blocked: dropped, and the 603 goes to the server as a client MSG (ack U)', () => {
    const h = new Harness();
    h.client(`ANS 1 ${A} 1.2 3\r\n`).server(`IRO 1 1 1 ${Bob} Bob\r\n`);
    h.client(clientMsg(2, 'N', 'hi'));
    const msgs = p2pMsgs(inviteText(Bob, A, 'virus.exe', 666), { id: 9, dest: A, chunk: 700, server: { from: Bob } });
    const before = h.clientGot;
    const serverBefore = h.serverGot;
    h.server(Buffer.concat(msgs));
    expect(h.clientGot).toBe(before);
    expect(h.ofKind('file').map((e) => [e.draft.side, e.draft.peer, e.draft.file])).toEqual([['s2c', Bob, { name: 'virus.exe', size: 666 }]]);
    const toServer = h.serverGot.slice(serverBefore.length);
    expect(toServer.startsWith('MSG 2 U ')).toBe(true);
    expect(toServer).toContain('MSNSLP/1.0 603 Decline');
    expect(toServer).toContain(`P2P-Dest: ${Bob}`);
  });

  it('a display-picture INVITE (other EUF-GUID) is not a file', () => {
    const h = new Harness();
    const msgs = p2pMsgs(inviteText(A, Bob, 'x', 1, '{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}'), { id: 3, dest: Bob, client: { trid: 3 } });
    h.client(Buffer.concat(msgs));
    expect(h.ofKind('file')).toHaveLength(0);
    expect(h.serverGot).toBe(Buffer.concat(msgs).toString('latin1'));
  });

  it('parseSlpInvite reads the synthetic INVITE', () => {
    const inv = parseSlpInvite(inviteText(A, Bob, 'a.txt', 1));
    expect(inv).toMatchObject({ to: Bob, from: A, callId: CALL_ID, branch: BRANCH, sessionId: '4711' });
  });
});
