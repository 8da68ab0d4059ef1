// The element reader behind every inspected stanza: values and text decoded
// (entities, UTF-8 only when the unit holds non-ASCII bytes), byte offsets
// that let a redaction splice the original bytes.
import { attr, child, parseElement } from '../../../../src/protocols/xmpp/element';

const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

describe('XMPP element reader', () => {
  it('reads attributes (quoted > included), the body text with entities and CDATA, and byte offsets', () => {
    const raw = `<message to="bob@x/r>1" type='chat'><body>a &amp; b<![CDATA[ <c> ]]>d</body></message>`;
    const el = parseElement(raw);
    expect(el).not.toBeNull();
    if (el === null) return;
    expect(attr(el, 'to')).toBe('bob@x/r>1');
    expect(attr(el, 'type')).toBe('chat');
    const body = child(el, 'body');
    expect(body?.text).toBe('a & b <c> d');
    expect(raw.slice(body?.innerStart, body?.innerEnd)).toBe('a &amp; b<![CDATA[ <c> ]]>d');
    expect(el.end).toBe(raw.length);
  });

  it('decodes UTF-8 in values and text of a non-ASCII unit, and leaves offsets in bytes', () => {
    const raw = latin1(`<message to='zoë@x'><body>héllo ✓</body></message>`);
    const el = parseElement(raw);
    if (el === null) throw new Error('no element');
    expect(attr(el, 'to')).toBe('zoë@x');
    const body = child(el, 'body');
    expect(body?.text).toBe('héllo ✓');
    expect(body?.innerEnd).toBe(Buffer.byteLength(`<message to='zoë@x'><body>héllo ✓`));
  });

  it('keeps the text read so far of a truncated unit and resolves prefixed namespaces', () => {
    const el = parseElement(`<iq xmlns:b='urn:b'><b:q a = "1"><x>par`);
    if (el === null) throw new Error('no element');
    const q = el.children[0];
    expect(q?.ns).toBe('urn:b');
    expect(q?.local).toBe('q');
    expect(q !== undefined ? attr(q, 'a') : undefined).toBe('1');
    expect(q?.children[0]?.text).toBe('par');
  });
});
