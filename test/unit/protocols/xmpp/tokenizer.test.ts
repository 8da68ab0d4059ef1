import { XmlUnitTokenizer, type UnitKind } from '../../../../src/protocols/xmpp/tokenizer';

function split(chunks: string[], limit = 4096): { units: [UnitKind, string, string][]; overflow: boolean } {
  const units: [UnitKind, string, string][] = [];
  let overflow = false;
  const t = new XmlUnitTokenizer({ unit: (k, b, _s, n) => units.push([k, b.toString('utf8'), n]), overflow: () => (overflow = true) }, limit);
  for (const c of chunks) t.push(Buffer.from(c));
  return { units, overflow };
}

const STREAM = `<?xml version='1.0'?><stream:stream to='a.b' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

describe('XMPP unit tokenizer', () => {
  it('splits prolog, header, stanzas, keepalives and the close, keeping exact bytes', () => {
    const msg = `<message to="b@a.b" type='chat'><body a="x>y">hi &amp; <![CDATA[<b>]]></body><!-- c --><x/></message>`;
    const text = `${STREAM}<presence/> \n${msg}</stream:stream>`;
    const { units } = split([text]);
    expect(units.map((u) => u[0])).toEqual(['other', 'header', 'stanza', 'space', 'stanza', 'close']);
    expect(units.map((u) => u[1]).join('')).toBe(text);
    expect(units[4]).toEqual(['stanza', msg, 'message']);
    expect(units[1]?.[2]).toBe('stream:stream');
  });

  it('gives the same units whatever the chunking (byte by byte)', () => {
    const text = `${STREAM}<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq><message><body>a'b"c</body></message>`;
    const whole = split([text]).units;
    const bytes = split(text.split('')).units;
    expect(bytes).toEqual(whole);
  });

  it('handles stream restarts and a header split across chunks', () => {
    const { units } = split([STREAM.slice(0, 30), STREAM.slice(30), '<success/>', STREAM]);
    expect(units.filter((u) => u[0] === 'header')).toHaveLength(2);
  });

  it('closes on a stanza larger than the limit before holding it', () => {
    const { units, overflow } = split([STREAM, `<message><body>${'x'.repeat(200)}</body></message>`], 100);
    expect(overflow).toBe(true);
    expect(units.map((u) => u[0])).toEqual(['other', 'header']);
  });

  it('names a stanza whose name is split across chunks, and keeps only the first 64 characters of a long one', () => {
    const msg = `<message to='a@b' type='chat'><body>hi</body></message>`;
    const cuts = [STREAM, msg.slice(0, 3), msg.slice(3, 5), msg.slice(5)];
    expect(split(cuts).units.map((u) => u.slice(0, 3))).toEqual([
      ['other', `<?xml version='1.0'?>`, ''],
      ['header', STREAM.slice(21), 'stream:stream'],
      ['stanza', msg, 'message'],
    ]);
    const long = 'n'.repeat(70);
    const odd = `<${long} a='1'/>`;
    const units = split([STREAM, odd.slice(0, 40), odd.slice(40)]).units;
    expect(units[2]).toEqual(['stanza', odd, 'n'.repeat(64)]);
  });

  it('finds the end of a start tag past quoted > and / in attribute values, in any chunking', () => {
    const msg = `<message to="a>b@c/d" id='x/>'><body>1 &gt; 0</body></message><presence type='a>'/>`;
    const whole = split([STREAM, msg]).units;
    expect(whole.slice(2)).toEqual([
      ['stanza', `<message to="a>b@c/d" id='x/>'><body>1 &gt; 0</body></message>`, 'message'],
      ['stanza', `<presence type='a>'/>`, 'presence'],
    ]);
    expect(split([STREAM, ...msg.split('')]).units).toEqual(whole);
  });

  it('refuses a start tag that outgrows the limit inside its attributes', () => {
    const { units, overflow } = split([STREAM, `<message to='${'a'.repeat(300)}'>`], 100);
    expect(overflow).toBe(true);
    expect(units.map((u) => u[0])).toEqual(['other', 'header']);
  });
});
