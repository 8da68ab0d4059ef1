// Property tests of the body extractors: on any input they either return
// ranges that point at exactly the values they report, or fail with a
// WebBodyError; and splicing a value back in leaves the document equal.
import fc from 'fast-check';
import { formEncode, jsonLiteral, multipartBoundary, scanForm, scanJson, scanMultipart, splice, WebBodyError } from '../../../src/web';

const LIMITS = { maxDepth: 64, maxLeaves: 100_000 };

function onlyBodyErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WebBodyError)) throw err;
  }
}

test('scanJson finds every string value of any JSON document, at its exact bytes', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom(0, 1, 2), (value, indent) => {
      const text = JSON.stringify(value, null, indent);
      const buf = Buffer.from(text);
      const leaves = scanJson(buf, LIMITS);
      for (const l of leaves) expect(JSON.parse(buf.toString('utf8', l.start, l.end))).toBe(l.value);
      // Every leaf replaced by its own re-encoding: the same document.
      const round = splice(buf, leaves.map((l) => ({ start: l.start, end: l.end, bytes: jsonLiteral(l.value) })));
      expect(JSON.parse(round.toString())).toEqual(JSON.parse(text));
      // Replacing with "X" changes exactly the string values.
      const masked = JSON.parse(splice(buf, leaves.map((l) => ({ start: l.start, end: l.end, bytes: jsonLiteral('X') }))).toString()) as unknown;
      const expectMasked = JSON.parse(text, (_key, v: unknown) => (typeof v === 'string' ? 'X' : v)) as unknown;
      expect(masked).toEqual(expectMasked);
    }),
    { numRuns: 300 },
  );
});

test('scanJson on arbitrary bytes: a result or a WebBodyError, never anything else', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', 'a', '1', ' ', 'true', 'null', '-') })), (input) => {
      onlyBodyErrors(() => scanJson(Buffer.from(input as Uint8Array | string), LIMITS));
    }),
    { numRuns: 1000 },
  );
});

test('scanJson accepts exactly what JSON.parse accepts (on JSON-ish strings)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"a"', ':', ',', '1', ' ', 'true') , maxLength: 30 }), (s) => {
      let ok = true;
      try {
        JSON.parse(s);
      } catch {
        ok = false;
      }
      let ours = true;
      try {
        scanJson(Buffer.from(s), LIMITS);
      } catch {
        ours = false;
      }
      expect(ours).toBe(ok);
    }),
    { numRuns: 2000 },
  );
});

test('scanForm: encoded fields come back decoded, with ranges of their raw values', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string()), { maxLength: 8 }), (pairs) => {
      const body = Buffer.from(pairs.map(([k, v]) => `${formEncode(k).toString()}=${formEncode(v).toString()}`).join('&'));
      const fields = scanForm(body, 1000);
      // Lone surrogates do not survive UTF-8; compare what UTF-8 can carry.
      const utf8 = (s: string): string => Buffer.from(s).toString();
      expect(fields.map((f) => [f.name, f.value])).toEqual(pairs.map(([k, v]) => [utf8(k), utf8(v)]));
      for (const f of fields) expect(body.toString('latin1', f.start, f.end)).toBe(formEncode(f.value).toString());
    }),
    { numRuns: 300 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyBodyErrors(() => scanForm(Buffer.from(b), 1000))), { numRuns: 500 });
});

test('scanMultipart: parts of a well-formed body come back exactly; garbage gives WebBodyError only', () => {
  const partArb = fc.record({ name: fc.stringMatching(/^[a-z_[\]0-9]{1,12}$/), filename: fc.option(fc.stringMatching(/^[a-zA-Z0-9 ._-]{1,20}$/), { nil: undefined }), content: fc.uint8Array({ maxLength: 200 }) });
  fc.assert(
    fc.property(fc.array(partArb, { minLength: 1, maxLength: 5 }), (parts) => {
      const B = 'fuzzBoundary0123456789';
      const chunks: Buffer[] = [];
      for (const p of parts) {
        const disp = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
        chunks.push(Buffer.from(`--${B}\r\nContent-Disposition: ${disp}\r\n\r\n`), Buffer.from(p.content), Buffer.from('\r\n'));
      }
      chunks.push(Buffer.from(`--${B}--\r\n`));
      const body = Buffer.concat(chunks);
      // A random payload may contain the delimiter itself; only check bodies where it does not.
      fc.pre(parts.every((p) => Buffer.from(p.content).indexOf(`\r\n--${B}`) < 0));
      const got = scanMultipart(body, multipartBoundary(`multipart/form-data; boundary="${B}"`) as string, 100);
      expect(got.map((g) => [g.name, g.filename, body.subarray(g.start, g.end)])).toEqual(parts.map((p) => [p.name, p.filename, Buffer.from(p.content)]));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('--b', '\r\n', 'Content-Disposition: form-data; name="x"', '\r\n\r\n', 'data', '--', ' ') }), (s) => {
      onlyBodyErrors(() => scanMultipart(Buffer.from(s), 'b', 100));
    }),
    { numRuns: 1000 },
  );
});
