// Random bytes, truncations and mutations of real stanzas: the session never
// throws, holds at most the unit limit, and allowed input stays byte-identical.
import fc from 'fast-check';
import { XmlUnitTokenizer } from '../../../../src/protocols/xmpp/tokenizer';
import { parseElement } from '../../../../src/protocols/xmpp/element';
import { CLIENT_OPEN, FEATURES, Harness, SERVER_OPEN, plainAuth } from './harness';

const REAL = [
  CLIENT_OPEN,
  plainAuth('alice', 'pw'),
  `<message type='chat' id='purplebea68aeb' to='chatback@cs-xmpp.lan'><active xmlns='http://jabber.org/protocol/chatstates'/><body>hey</body></message>`,
  `<message to="bob@imgate.test" type="chat"><body>card 4111 1111 1111 1111 and project falcon</body></message>`,
  `<iq type='set' id='s1' to='b@x/y'><si xmlns='http://jabber.org/protocol/si'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='a.txt' size='12'/></si></iq>`,
  `<iq type='get' id='u1' to='x'><request xmlns='urn:xmpp:http:upload:0' filename='p.pdf' size='9'/></iq>`,
  `<enable xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='4'/><r xmlns='urn:xmpp:sm:3'/>`,
  `<presence><![CDATA[x<y]]><!-- c --><?pi x?></presence> `,
  `</stream:stream>`,
];

const mutated = fc
  .tuple(fc.constantFrom(...REAL), fc.nat(), fc.uint8Array({ minLength: 0, maxLength: 8 }), fc.boolean())
  .map(([s, at, junk, truncate]) => {
    const b = Buffer.from(s);
    const i = at % (b.length + 1);
    return truncate ? b.subarray(0, i) : Buffer.concat([b.subarray(0, i), Buffer.from(junk), b.subarray(i)]);
  });

const chunkList = fc.array(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u))), { maxLength: 30 });

describe('xmpp fuzz', () => {
  it('session: never throws, buffers at most the limit', () => {
    fc.assert(
      fc.property(chunkList, chunkList, (up, down) => {
        const h = new Harness({ maxUnitBytes: 512 });
        h.client(CLIENT_OPEN).server(SERVER_OPEN + FEATURES);
        for (let i = 0; i < Math.max(up.length, down.length); i++) {
          if (up[i]) h.client(up[i] as Buffer);
          if (down[i]) h.server(down[i] as Buffer);
        }
        h.session.end('c2s');
        h.session.end('s2c');
        expect(h.closed === null || /xmpp: /.test(h.closed)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('tokenizer: output is exactly the input (minus the held tail), chunking does not matter', () => {
    fc.assert(
      fc.property(fc.array(mutated, { maxLength: 12 }), fc.array(fc.nat(40), { maxLength: 20 }), (parts, cuts) => {
        const all = Buffer.concat(parts);
        const run = (chunks: Buffer[]): { out: Buffer; pending: number } => {
          const got: Buffer[] = [];
          const t = new XmlUnitTokenizer({ unit: (_k, b) => got.push(Buffer.from(b)), overflow: () => {} }, 1 << 20);
          for (const c of chunks) t.push(c);
          expect(t.pending).toBeLessThanOrEqual(all.length);
          return { out: Buffer.concat(got), pending: t.pending };
        };
        const whole = run([all]);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const c of cuts) {
          chunks.push(all.subarray(at, Math.min(all.length, at + c)));
          at = Math.min(all.length, at + c);
        }
        chunks.push(all.subarray(at));
        const split = run(chunks);
        expect(split.out.equals(whole.out)).toBe(true);
        expect(Buffer.concat([whole.out, all.subarray(whole.out.length)]).equals(all)).toBe(true);
        expect(whole.out.length + whole.pending).toBe(all.length);
      }),
      { numRuns: 300 },
    );
  });

  it('element parser never throws on any input', () => {
    fc.assert(
      fc.property(fc.oneof(mutated.map((b) => b.toString('latin1')), fc.string({ maxLength: 200 })), (s) => {
        parseElement(s);
      }),
      { numRuns: 500 },
    );
  });

  it('allowed stanzas, split anywhere, pass byte-identical', () => {
    const allowed = [
      `<message to='bob@imgate.test' type='chat' id='m'><body>hi &amp; bye</body><x xmlns="y" a='"'/></message>`,
      `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`,
      `<presence><show>away</show></presence>`,
      ' ',
    ].join('');
    fc.assert(
      fc.property(fc.array(fc.nat(allowed.length), { maxLength: 10 }), (cuts) => {
        const h = new Harness();
        h.client(CLIENT_OPEN).server(SERVER_OPEN + FEATURES);
        h.reset();
        const b = Buffer.from(allowed);
        const sorted = [...new Set(cuts)].sort((x, y) => x - y);
        let at = 0;
        for (const c of sorted) {
          h.client(b.subarray(at, c));
          at = c;
        }
        h.client(b.subarray(at));
        expect(h.serverGot()).toBe(allowed);
      }),
      { numRuns: 200 },
    );
  });
});
