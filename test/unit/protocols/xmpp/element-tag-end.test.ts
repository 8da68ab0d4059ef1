// Where a start tag ends: its '>' outside quoted values, found in one pass
// over the tag (element.ts startTagEnd). Quotes of one kind inside values of
// the other kind, '>' inside values, a value left open by a truncated unit,
// and tags without attributes followed by text full of quotes.
import { attr, child, parseElement } from '../../../../src/protocols/xmpp/element';

describe('XMPP element reader: end of a start tag', () => {
  it("skips '>' and the other quote kind inside values", () => {
    const raw = `<message id="a'>b" to='c">d' type='chat'><body>x</body></message>`;
    const el = parseElement(raw);
    if (el === null) throw new Error('no element');
    expect(attr(el, 'id')).toBe("a'>b");
    expect(attr(el, 'to')).toBe('c">d');
    expect(attr(el, 'type')).toBe('chat');
    expect(child(el, 'body')?.text).toBe('x');
    expect(el.innerStart).toBe(raw.indexOf('<body>'));
  });

  it('reads a tag without attributes when the text after it holds quotes and >', () => {
    const raw = `<message><body>it's "quoted" > here</body><thread>t'1</thread></message>`;
    const el = parseElement(raw);
    if (el === null) throw new Error('no element');
    expect(el.children.map((c) => c.local)).toEqual(['body', 'thread']);
    expect(child(el, 'body')?.text).toBe(`it's "quoted" > here`);
    expect(child(el, 'thread')?.text).toBe("t'1");
  });

  it('an unclosed value runs to the end of a truncated unit, as before', () => {
    const raw = `<message to='bob@x><body>never closed`;
    const el = parseElement(raw);
    if (el === null) throw new Error('no element');
    expect(el.name).toBe('message');
    expect(el.children).toHaveLength(0);
    expect(el.innerStart).toBe(raw.length);
  });

  it('reads many quote-less child tags of one large unit', () => {
    const n = 25000;
    const raw = `<message><body>${'<b>x</b>'.repeat(n)}</body></message>`;
    const el = parseElement(raw);
    if (el === null) throw new Error('no element');
    const body = child(el, 'body');
    expect(body?.children).toHaveLength(n);
    expect(body?.children[n - 1]?.text).toBe('x');
    expect(el.end).toBe(raw.length);
  });
});
