// The real ICQ capture (nDPI's Oscar.pcap): ICQ over port 443, so the
// module must find it by its bytes; a BOS connection opened with a cookie,
// so the own UIN comes from SNAC 01/0F; about 70 KB of the stream were never
// captured (gaps in both directions) and the session must carry on after.
import { replayCapture, type ReplayEvent } from '../../../../src/replay';
import { oscarModule } from '../../../../src/protocols/oscar';
import type { Verdict } from '../../../../src/events/types';

import { capture } from '../../../captures';
const CAPTURE = capture('ndpi-Oscar.pcap');
const OWN_UIN = '157901844';
const PEER = '461758769';
const OUT_TEXT = '<HTML><BODY><HTML><FONT>HI!</FONT></HTML></BODY></HTML>';
const IN_TEXT = '<HTML><BODY>hey</BODY></HTML>';

const summary = (e: ReplayEvent): unknown[] => [e.kind, e.side, e.account, e.peer, e.text];

describe('OSCAR replay of ndpi-Oscar.pcap', () => {
  it('finds the login UIN, the outgoing and the incoming message, on port 443, across the gaps', async () => {
    const r = await replayCapture(CAPTURE, { modules: [oscarModule] });
    expect(r.connections).toHaveLength(1);
    const conn = r.connections[0];
    expect(conn).toMatchObject({ protocol: 'oscar', server: '178.237.24.249:443' });
    expect((conn?.gaps.c2s ?? 0) + (conn?.gaps.s2c ?? 0)).toBeGreaterThan(0);
    expect(r.events.map(summary)).toEqual([
      ['login', 'c2s', OWN_UIN, undefined, undefined],
      ['message', 'c2s', OWN_UIN, PEER, OUT_TEXT],
      ['message', 's2c', OWN_UIN, PEER, IN_TEXT],
    ]);
    expect(r.events.every((e) => e.protocol === 'oscar' && e.app === 'icq')).toBe(true);
    // Allowed: everything reassembled was passed on, nothing made up.
    expect(conn?.forwarded).toEqual(conn?.bytes);
    expect(conn?.injected).toEqual({ c2s: 0, s2c: 0 });
  });

  it('blocking the outgoing message removes it and answers the client with an ICBM error', async () => {
    const decide = (ev: { kind: string; text?: string }): Verdict =>
      ev.kind === 'message' && ev.text === OUT_TEXT ? { action: 'block', rule: 'test-block' } : { action: 'allow', rule: 'default' };
    const r = await replayCapture(CAPTURE, { modules: [oscarModule], decide });
    const conn = r.connections[0];
    const outFrame = 6 + 106; // the 04/06 FLAP in the capture
    const errFrame = 6 + 12; // FLAP + SNAC 04/01 + error code
    expect(conn?.forwarded.c2s).toBe((conn?.bytes.c2s ?? 0) - outFrame);
    expect(conn?.injected).toEqual({ c2s: errFrame, s2c: 0 });
    expect(r.events.map((e) => e.verdict.action)).toEqual(['allow', 'block', 'allow']);
  });
});
