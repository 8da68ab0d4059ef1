// XEP-0047 in-band bytestreams as the XMPP dissector sees them pass: the
// base64 payloads reassembled per (sid, direction), the completed transfer
// reported with the exact size and sha256, the name from the SI offer.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { Base64Stream } from '../../../../src/protocols/xmpp/base64';
import { Harness, loggedIn } from './harness';

const ALLOW = 'default: allow\nrules: []\n';
const NS = 'http://jabber.org/protocol/ibb';
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** Base64 of `data` cut into pieces of `block` bytes, each piece padded on its own (as XEP-0047 senders do). */
function pieces(data: Buffer, block: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length; i += block) out.push(data.subarray(i, i + block).toString('base64'));
  return out;
}

const siOffer = (sid: string, name: string, size: number, to = 'bob@imgate.test/t') =>
  `<iq type='set' id='si-${sid}' to='${to}'><si xmlns='http://jabber.org/protocol/si' id='${sid}' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='${name}' size='${size}'/></si></iq>`;
const open = (sid: string, to = 'bob@imgate.test/t') => `<iq type='set' id='o-${sid}' to='${to}'><open xmlns='${NS}' block-size='4096' sid='${sid}' stanza='iq'/></iq>`;
const data = (sid: string, seq: number, b64: string, to = 'bob@imgate.test/t') => `<iq type='set' id='d-${sid}-${seq}' to='${to}'><data xmlns='${NS}' seq='${seq}' sid='${sid}'>${b64}</data></iq>`;
const close = (sid: string, to = 'bob@imgate.test/t') => `<iq type='set' id='c-${sid}' to='${to}'><close xmlns='${NS}' sid='${sid}'/></iq>`;

const transfers = (h: Harness) => h.events.filter((e) => e.draft.kind === 'file' && e.draft.detail?.transfer !== undefined);

describe('Base64Stream', () => {
  it('decodes pieces split anywhere, each with its own padding, with whitespace', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 97 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, block, cuts) => {
        const buf = Buffer.from(bytes);
        const text = pieces(buf, block).join('\n');
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const d = new Base64Stream();
        const out: Buffer[] = [];
        let prev = 0;
        for (const c of [...at, text.length]) {
          out.push(...d.push(text.slice(prev, c)));
          prev = c;
        }
        out.push(...d.flush());
        expect(Buffer.concat(out).equals(buf)).toBe(true);
        expect(d.invalid).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('flags characters that are not base64', () => {
    const d = new Base64Stream();
    d.push('QUJD*RA==');
    expect(d.invalid).toBe(true);
  });
});

describe('XMPP IBB transfers', () => {
  it('passes every stanza byte-identically and reports name, size and sha256 of the reassembled file', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const file = crypto.randomBytes(10_000);
    const parts = pieces(file, 4096);
    // The middle piece arrives split across two stanzas' worth of TCP chunks and carries line breaks.
    const mid = (parts[1] as string).replace(/(.{76})/g, '$1\n');
    const stanzas = [siOffer('s1', 'plan.pdf', file.length), open('s1'), data('s1', 0, parts[0] as string), data('s1', 1, mid), data('s1', 2, parts[2] as string), close('s1')];
    const wire = stanzas.join('');
    for (let i = 0; i < wire.length; i += 1000) h.client(wire.slice(i, i + 1000));
    expect(h.serverGot()).toBe(wire);
    const done = transfers(h);
    expect(done).toHaveLength(1);
    expect(done[0]?.draft).toMatchObject({
      kind: 'file',
      side: 'c2s',
      protocol: 'xmpp',
      account: 'alice@imgate.test',
      peer: 'bob@imgate.test',
      file: { name: 'plan.pdf', size: file.length, sha256: sha(file) },
      detail: { via: 'ibb', sid: 's1', transfer: 'complete', offeredSize: file.length },
    });
    // The IBB open's own event already names the file the SI offer announced.
    expect(h.events.find((e) => e.draft.detail?.via === 'ibb' && e.draft.detail?.transfer === undefined)?.draft.file).toEqual({ name: 'plan.pdf', size: file.length });
  });

  it('error bounces carrying the data back are not a transfer (only the sent one is recorded)', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const file = crypto.randomBytes(3000);
    const b64 = file.toString('base64');
    h.client(open('s9') + data('s9', 0, b64) + close('s9'));
    // The receiver's client answers each unhandled iq with an error that echoes its payload.
    const bounce = (x: string): string =>
      x.replace(/type='set'/, "type='error'").replace(/to='[^']*'/, "from='bob@imgate.test/t' to='alice@imgate.test/t'").replace('</iq>', "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    h.server(bounce(open('s9')) + bounce(data('s9', 0, b64)) + bounce(close('s9')));
    const done = transfers(h);
    expect(done).toHaveLength(1);
    expect(done[0]?.draft).toMatchObject({ side: 'c2s', file: { size: 3000, sha256: sha(file) } });
  });

  it('decodes base64 split across data stanzas (one stream, not per stanza)', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const file = crypto.randomBytes(1001);
    const b64 = file.toString('base64');
    h.client(open('s2'));
    h.client(data('s2', 0, b64.slice(0, 333)) + data('s2', 1, b64.slice(333, 334)) + data('s2', 2, b64.slice(334)));
    h.client(close('s2'));
    expect(transfers(h)[0]?.draft.file).toEqual({ size: 1001, sha256: sha(file) });
    expect(transfers(h)[0]?.draft.detail?.transfer).toBe('complete');
  });

  it('tracks inbound transfers (server to client) by their own sid and direction', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const a = crypto.randomBytes(5000);
    const b = crypto.randomBytes(700);
    const from = 'bob@imgate.test/t';
    const sIn = (x: string) => x.replace(/to='[^']*'/, `from='${from}' to='alice@imgate.test/t'`);
    h.server(sIn(open('x')));
    h.client(open('x', from)); // same sid, other direction: a different transfer
    for (const [i, p] of pieces(a, 4096).entries()) h.server(sIn(data('x', i, p)));
    h.client(data('x', 0, b.toString('base64'), from));
    h.server(sIn(close('x')));
    const done = transfers(h);
    expect(done.map((e) => [e.draft.side, e.draft.file?.size, e.draft.file?.sha256, e.draft.peer]).sort()).toEqual(
      [
        ['c2s', 700, sha(b), 'bob@imgate.test'],
        ['s2c', 5000, sha(a), 'bob@imgate.test'],
      ].sort(),
    );
  });

  it('a stream that ends before <close/> gives a partial transfer', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const file = crypto.randomBytes(3000);
    h.client(siOffer('s3', 'half.bin', 6000) + open('s3') + data('s3', 0, file.toString('base64')));
    h.session.end('c2s');
    expect(transfers(h)[0]?.draft).toMatchObject({ file: { name: 'half.bin', size: 3000, sha256: sha(file) }, detail: { transfer: 'partial', offeredSize: 6000 } });
  });

  it('a resent chunk (same seq) is not counted twice; a gap marks the transfer partial', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const f = crypto.randomBytes(200);
    const p = f.toString('base64');
    h.client(open('s4') + data('s4', 0, p) + data('s4', 0, p) + close('s4'));
    expect(transfers(h)[0]?.draft).toMatchObject({ file: { size: 200, sha256: sha(f) }, detail: { transfer: 'complete' } });
    h.client(open('s5') + data('s5', 0, p) + data('s5', 2, p) + close('s5'));
    expect(transfers(h)[1]?.draft).toMatchObject({ file: { size: 400 }, detail: { transfer: 'partial', seq_gaps: 1 } });
  });

  it('when policy blocks the file, its data never reaches the server and no transfer is recorded', () => {
    const h = loggedIn(new Harness()); // POLICY: no-files
    h.client(siOffer('s6', 'secret.doc', 10));
    h.client(open('s6'));
    h.client(data('s6', 0, Buffer.from('0123456789').toString('base64')));
    h.client(close('s6'));
    expect(h.serverGot()).toBe('');
    const errs = h.clientGot();
    expect(errs).toContain(`id='d-s6-0'`);
    expect(errs.match(/<forbidden /g)?.length).toBe(4);
    expect(transfers(h)).toHaveLength(0);
    // Only the offer and the open were decided: refused data does not add an event per stanza.
    expect(h.events.filter((e) => e.draft.kind === 'file')).toHaveLength(2);
  });

  it('data carried in <message> stanzas is reassembled too', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    const f = crypto.randomBytes(300);
    h.client(`<message to='bob@imgate.test/t' id='m'><data xmlns='${NS}' seq='0' sid='m1'>${f.toString('base64')}</data></message>`);
    h.client(close('m1'));
    expect(transfers(h)[0]?.draft.file).toEqual({ size: 300, sha256: sha(f) });
  });

  it('stays bounded: transfers past the table size pass untracked', () => {
    const h = loggedIn(new Harness({}, ALLOW));
    let wire = '';
    for (let i = 0; i < 40; i++) wire += open(`t${i}`) + data(`t${i}`, 0, 'QUJD');
    h.client(wire);
    expect(h.serverGot()).toBe(wire);
    h.session.end('c2s');
    expect(transfers(h)).toHaveLength(16);
    expect(h.logs.some((l) => l.includes('too many IBB transfers'))).toBe(true);
  });
});

describe('XMPP IBB under bad input', () => {
  it('random IBB traffic (garbled base64, odd seqs, unknown sids, any split) passes unchanged and never throws', () => {
    const piece = fc.oneof(
      fc.base64String({ maxLength: 40 }),
      fc.string({ maxLength: 12 }).map((s) => s.replace(/[<&'"]/g, '')),
      fc.constantFrom('', '====', '\n', 'QQ', '=QUJD'),
    );
    const stanza = fc.oneof(
      fc.record({ sid: fc.constantFrom('a', 'b', 'c'), seq: fc.integer({ min: 0, max: 70000 }), text: piece }).map((r) => data(r.sid, r.seq, r.text)),
      fc.constantFrom('a', 'b', 'c', 'd').map((s) => open(s)),
      fc.constantFrom('a', 'b', 'c', 'zz').map((s) => close(s)),
      fc.constantFrom('a', 'b').map((s) => siOffer(s, 'f.bin', 12)),
    );
    fc.assert(
      fc.property(fc.array(stanza, { maxLength: 25 }), fc.integer({ min: 1, max: 300 }), (stanzas, cut) => {
        const h = loggedIn(new Harness({}, ALLOW));
        const wire = stanzas.join('');
        for (let i = 0; i < wire.length; i += cut) h.client(wire.slice(i, i + cut));
        h.session.end('c2s');
        expect(h.closed).toBeNull();
        expect(h.serverGot()).toBe(wire);
        for (const e of transfers(h)) expect(e.draft.file?.sha256).toMatch(/^[0-9a-f]{64}$/);
      }),
      { numRuns: 200 },
    );
  });
});
