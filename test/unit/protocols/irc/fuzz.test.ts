import fc from 'fast-check';
import { clearDccOffers, dccOfferCount, DCC_TABLE_MAX, IrcSession, probeIrc } from '../../../../src/protocols/irc';
import { IRC_MAX_MESSAGE, IRC_MAX_TAGS } from '../../../../src/protocols/irc/framer';
import { Harness, TEST_POLICY } from './harness';

const ALLOW_ALL = { default: 'allow', rules: [] };
/** The most one side may hold: one unterminated line. */
const MAX_HELD_PER_SIDE = IRC_MAX_TAGS + IRC_MAX_MESSAGE + 2;

const side = fc.constantFrom('c2s' as const, 's2c' as const);
const bytes = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => Buffer.from(a));

// IRC-shaped pieces, so the fuzzer reaches the command handlers and not only the framer.
const ircish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'NICK ', 'USER u 0 * :r', 'PASS x', 'PRIVMSG ', 'NOTICE ', ':n!u@h ', '@a=b;c ', ' :', '\x01', 'DCC SEND ', 'DCC CHAT chat ',
        'ACTION ', '"a b" ', '2130706433 ', '5000 ', '12', 'project falcon', '4111 1111 1111 1111', 'AUTHENTICATE ', 'PLAIN',
        'STARTTLS', ':s 670 n :go', ':s CAP * LS :tls sts=x sasl', ':s 001 n :hi', 'NICK :', '#chan', ',', ' ', '\r\n', '\n', '\r',
      ),
      fc.string({ maxLength: 12 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'utf8'));

const feed = fc.array(fc.tuple(side, fc.oneof(bytes, ircish)), { maxLength: 30 });

function run(policy: object, steps: Array<[('c2s' | 's2c'), Buffer]>, opts = {}): Harness {
  const h = new Harness(policy, opts);
  for (const [s, b] of steps) {
    expect(() => h.session.push(s, b)).not.toThrow();
    const held = (h.session as IrcSession).bufferedBytes;
    expect(held).toBeLessThanOrEqual(2 * MAX_HELD_PER_SIDE);
  }
  expect(() => h.session.end('c2s')).not.toThrow();
  expect(() => h.session.end('s2c')).not.toThrow();
  return h;
}

describe('IRC dissector under fuzzing', () => {
  afterAll(() => clearDccOffers());

  test('never throws, holds at most one line per side (policy with block/redact)', () => {
    fc.assert(
      fc.property(feed, fc.constantFrom('pass' as const, 'strip' as const, 'block' as const), (steps, starttls) => {
        run(TEST_POLICY, steps, { starttls });
      }),
      { numRuns: 400 },
    );
  });

  test('with an allow-all policy everything either passes byte-identical or the tunnel closed with a reason', () => {
    fc.assert(
      fc.property(feed, (steps) => {
        const h = run(ALLOW_ALL, steps);
        if (h.closed !== undefined) {
          expect(h.closed).toMatch(/^irc: /);
          return;
        }
        const sent = (s: 'c2s' | 's2c') => Buffer.concat(steps.filter(([x]) => x === s).map(([, b]) => b));
        expect(Buffer.concat(h.toServer).equals(sent('c2s'))).toBe(true);
        // s2c may gain nothing either: no STARTTLS strip under 'pass', nothing injected.
        expect(h.injectedToClient).toHaveLength(0);
        expect(Buffer.concat(h.toClient).equals(sent('s2c'))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  test('a long line trickling in byte by byte is refused before it is buffered past the limit', () => {
    const h = new Harness(ALLOW_ALL, { maxUnitBytes: 1 << 20 });
    const s = h.session as IrcSession;
    let maxHeld = 0;
    for (let i = 0; i < 20000 && h.closed === undefined; i++) {
      h.session.push('c2s', Buffer.from('x'));
      maxHeld = Math.max(maxHeld, s.bufferedBytes);
    }
    expect(h.closed).toMatch(/over 512 bytes/);
    expect(maxHeld).toBeLessThanOrEqual(IRC_MAX_MESSAGE);
  });

  test('probe never throws and answers only match/no/more', () => {
    fc.assert(
      fc.property(side, fc.oneof(bytes, ircish), (s, b) => {
        expect(['match', 'no', 'more']).toContain(probeIrc(s, b.length > 0 ? b : Buffer.from('x')));
      }),
      { numRuns: 2000 },
    );
  });

  test('the DCC offer table stays bounded under a flood of offers', () => {
    clearDccOffers();
    const h = new Harness(ALLOW_ALL).client('NICK flood\r\nUSER f 0 * :f\r\n');
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(`PRIVMSG victim :\x01DCC SEND f${i}.bin 3221226014 ${1 + (i % 60000)} 1\x01\r\n`);
    h.client(lines.join(''));
    expect(h.ofKind('file')).toHaveLength(5000);
    expect(dccOfferCount()).toBe(DCC_TABLE_MAX);
  });
});
