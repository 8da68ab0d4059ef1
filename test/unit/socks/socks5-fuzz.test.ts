// Property tests: the wire parsers never throw and the door answers any
// byte sequence with either nothing or a well-formed reply, then closes.
import fc from 'fast-check';
import { createSocks5Door } from '../../../socks/socks5-door';
import { formatIpv6, parseIpv6 } from '../../../socks/ip';
import { MAX_MESSAGE_BYTES, parseGreeting, parseRequest, parseUserPass } from '../../../socks/socks5-wire';
import type { Door } from '../../../socks/types';
import { rawExchange, realHooks, recordingLogger, startEchoOrigin } from './helpers';

jest.setTimeout(60000);

describe('wire parsers', () => {
  test('never throw; "need" only while a message is incomplete', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (arr) => {
        const b = Buffer.from(arr);
        for (const r of [parseGreeting(b, 0), parseUserPass(b, 0), parseRequest(b, 0)]) {
          if (r.kind === 'need') expect(b.length).toBeLessThan(MAX_MESSAGE_BYTES);
          if ('end' in r) expect(r.end).toBeLessThanOrEqual(b.length);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('IPv6 formatting is canonical (same as WHATWG URL) and round-trips', () => {
    // Bias towards zero groups so "::" compression is exercised.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const b = Buffer.alloc(16);
        groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
        const text = formatIpv6(b, 0);
        const viaUrl = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        // URL renders IPv4-mapped addresses in hex too, so these agree everywhere.
        expect(text).toBe(viaUrl);
        expect(parseIpv6(text)).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('door under random handshake bytes', () => {
  let door: Door;
  let port: number;
  let echoPort: number;
  let closeEcho: () => Promise<void>;

  beforeAll(async () => {
    const echo = await startEchoOrigin();
    echoPort = echo.port;
    closeEcho = echo.close;
    const hooks = realHooks();
    hooks.denyHosts.add('10.0.0.1');
    door = createSocks5Door({ host: '127.0.0.1', port: 0, auth: 'none', handshakeTimeoutMs: 300, hooks, logger: recordingLogger() });
    port = (await door.listen()).port;
  });

  afterAll(async () => {
    await door.close();
    await closeEcho();
  });

  /** Check `data` is a prefix-valid conversation: method reply, then at most one full reply. */
  function checkReply(data: Buffer): void {
    if (data.length === 0) return;
    expect(data[0]).toBe(5);
    expect([0x00, 0xff]).toContain(data[1]);
    if (data[1] === 0xff) {
      expect(data.length).toBe(2);
      return;
    }
    const rest = data.subarray(2);
    if (rest.length === 0) return;
    expect(rest[0]).toBe(5);
    expect(rest[2]).toBe(0);
    if (rest[1] !== 0) {
      // Refusal: exactly 10 bytes, code 1..8.
      expect(rest.length).toBe(10);
      expect(rest[1]).toBeGreaterThanOrEqual(1);
      expect(rest[1]).toBeLessThanOrEqual(8);
    } else {
      expect([1, 4]).toContain(rest[3]);
    }
  }

  test('random and mutated handshakes get a valid reply or a close, never a crash', async () => {
    const valid = Buffer.from([5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80]);
    const mutated = fc
      .tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: valid.length }))
      .map(([i, v, cut]) => {
        const b = Buffer.from(valid);
        b[i] = v;
        return [...b.subarray(0, Math.max(cut, i + 1))];
      });
    const arbitrary = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 300 });
    const splits = fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, arbitrary), splits, async (bytes, cuts) => {
        const all = Buffer.from(bytes);
        const parts: Buffer[] = [];
        let off = 0;
        for (const c of cuts) {
          if (off >= all.length) break;
          parts.push(all.subarray(off, off + c));
          off += c;
        }
        if (off < all.length) parts.push(all.subarray(off));
        const ex = await rawExchange(port, parts, 1500);
        // Either the door closed (refusal, bad input or handshake timeout), or
        // a tunnel is up; both with well-formed bytes.
        checkReply(ex.data);
      }),
      { numRuns: 150 },
    );
    // The door still serves a normal client afterwards.
    const ok = await rawExchange(port, [Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 0xff, 0x41])], 500);
    expect(ok.data.subarray(0, 4)).toEqual(Buffer.from([5, 0, 5, 0]));
    expect(ok.data.subarray(12).toString()).toBe('A');
    expect(door.pending()).toBe(0);
  });
});
