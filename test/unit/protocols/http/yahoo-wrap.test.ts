// The Yahoo HTTP wrapper: /notify paths, the 4-byte response prefix, packet
// counting, and the inspector over arbitrary bytes (never throws, bounded).
import fc from 'fast-check';
import { parsePolicy } from '../../../../src/policy';
import YAML from 'yaml';
import { YahooGateways } from '../../../../src/protocols/http/yahoo';
import type { SessionContext } from '../../../../src/protocols/types';
import { countPackets, firstSessionId, isNotifyPath, joinNotifyResponse, splitNotifyResponse } from '../../../../src/protocols/ymsg/http';
import { POLICY } from './harness';
import { hear, login, notifyBody, say } from './yahoo-ymsg';

function ctx(): SessionContext {
  const compiled = parsePolicy(YAML.parse(POLICY), null).compiled;
  const nop = (): void => undefined;
  return {
    conn: 't',
    destination: { host: '127.0.0.1', port: 80 },
    options: { starttls: 'pass', maxUnitBytes: 4096 },
    decide: (d) => compiled.evaluate({ id: 'e', time: 0, conn: 't', door: 'socks5', groups: [], kind: d.kind, protocol: d.protocol, text: d.text, account: d.account, direction: d.side === 'c2s' ? 'out' : 'in' }),
    redact: (t, v) => compiled.redact(t, v),
    log: { debug: nop, info: nop, warn: nop, error: nop },
  };
}

describe('Yahoo HTTP wrapper', () => {
  it('recognises /notify and /notify/ only', () => {
    expect(isNotifyPath('/notify/')).toBe(true);
    expect(isNotifyPath('/NOTIFY?x=1')).toBe(true);
    expect(isNotifyPath('/notify')).toBe(true);
    expect(isNotifyPath('/api/notify/')).toBe(false);
    expect(isNotifyPath('/notifyx')).toBe(false);
  });

  it('splits a response: prefix, packets; 4 bytes alone is an empty answer; others are refused with a reason', () => {
    const p = login('a');
    const s = splitNotifyResponse(notifyBody(p));
    expect(typeof s).toBe('object');
    if (typeof s === 'string') return;
    expect(s.packets.equals(p)).toBe(true);
    expect(s.prefix.readUInt16LE(0)).toBe(1);
    expect(splitNotifyResponse(notifyBody())).toEqual({ prefix: Buffer.from([0, 0, 0, 0]), packets: Buffer.alloc(0) });
    expect(splitNotifyResponse(Buffer.from('ab'))).toMatch(/shorter/);
    expect(splitNotifyResponse(Buffer.from('abcdHTTP'))).toMatch(/YMSG/);
  });

  it('counts whole packets only and rewrites the count only when it counted them', () => {
    const a = say(1, 'x', 'y', 'one');
    const b = say(1, 'x', 'y', 'two');
    expect(countPackets(Buffer.concat([a, b]))).toBe(2);
    expect(countPackets(Buffer.concat([a, b.subarray(0, 30)]))).toBeNull();
    expect(countPackets(Buffer.alloc(0))).toBe(0);
    expect(firstSessionId(b)).toBe(1);
    const orig = splitNotifyResponse(notifyBody(a, b));
    if (typeof orig === 'string') throw new Error(orig);
    expect(joinNotifyResponse(orig, a).readUInt16LE(0)).toBe(1);
    const opaque = { prefix: Buffer.from([9, 9, 9, 9]), packets: orig.packets };
    expect(joinNotifyResponse(opaque, a).subarray(0, 4)).toEqual(Buffer.from([9, 9, 9, 9]));
  });

  it('garbage, truncated and spliced bodies never throw and outputs stay bounded by their input', () => {
    const pieces = [login('alice'), say(5, 'alice', 'bob', 'project falcon'), hear(5, 'bob', 'alice', 'hi'), Buffer.from('YMSG'), Buffer.from([0xc0, 0x80])];
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      fc.array(fc.constantFrom(...pieces), { maxLength: 6 }).chain((ps) => {
        const all = Buffer.concat(ps);
        return fc.nat({ max: all.length }).map((n) => all.subarray(0, n));
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), body), { maxLength: 8 }), (seq) => {
        const gw = new YahooGateways(ctx());
        let chain = gw.chainFor(Buffer.alloc(0));
        for (const [isReq, b] of seq) {
          if (isReq) chain = gw.chainFor(b);
          const out = isReq ? gw.request(chain, b) : gw.response(chain, Buffer.concat([Buffer.from([1, 0, 0, 0]), b]));
          // Changes only ever drop packets or add a short notice: bounded.
          if (out !== null) expect(out.length).toBeLessThanOrEqual(b.length + 4 + 16 * 1024);
        }
        gw.dispose();
      }),
      { numRuns: 300 },
    );
  });
});
