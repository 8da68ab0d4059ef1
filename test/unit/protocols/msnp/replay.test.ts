// The real MSN captures replayed through the msnp dissector: the exact
// accounts, texts, peers and directions listed in
// /work/shared/captures/README.md, and what blocking/redacting would do.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { msnpModule } from '../../../../src/protocols/msnp';
import { replayCapture, type ReplayEvent } from '../../../../src/replay';

import { CAPTURES } from '../../../captures';
const DIR = CAPTURES;
const CHRIS = `${DIR}/chrissanders-msnms.pcap`;
const NDPI = `${DIR}/ndpi-msnms.pcap`;
const have = existsSync(CHRIS) && existsSync(NDPI);
const maybe = have ? describe : describe.skip;

const brief = (e: ReplayEvent): [string, string, string | undefined, string | undefined, string | undefined] => [e.kind, e.side, e.account, e.peer, e.text];

maybe('msnp replay of real captures', () => {
  it('chrissanders-msnms.pcap: the switchboard login and the 7 messages, in order, with peers and directions', async () => {
    const r = await replayCapture(CHRIS, { modules: [msnpModule] });
    const B = 'tesla_brian@hotmail.com';
    const T = 'tesla_thomas@hotmail.com';
    expect(r.events.map(brief)).toEqual([
      ['login', 'c2s', B, undefined, undefined],
      ['message', 'c2s', B, T, 'Hey Brian'],
      ['message', 's2c', B, T, 'Hey man, whats up?'],
      ['message', 'c2s', B, T, 'Not much, did you hear about the new IT guy they hired?'],
      ['message', 's2c', B, T, 'ohh yea, i hear he is a real jerk'],
      ['message', 'c2s', B, T, "I've heard the same"],
      ['message', 's2c', B, T, 'maybe we should try hacking into a server to mess with him?'],
      ['message', 'c2s', B, T, 'sounds good to me'],
    ]);
    expect(r.events.every((e) => e.protocol === 'msnp')).toBe(true);
    const conn = r.connections.find((c) => c.protocol === 'msnp');
    // Everything allowed passed byte for byte.
    expect(conn?.forwarded).toEqual(conn?.bytes);
  });

  it('ndpi-msnms.pcap: 34 text messages between jujurius@msn.com and cecile260992@hotmail.com', async () => {
    const r = await replayCapture(NDPI, { modules: [msnpModule] });
    const J = 'jujurius@msn.com';
    const C = 'cecile260992@hotmail.com';
    const msgs = r.events.filter((e) => e.kind === 'message');
    expect(msgs).toHaveLength(34);
    const received = msgs.filter((e) => e.side === 's2c');
    const sent = msgs.filter((e) => e.side === 'c2s');
    expect(received).toHaveLength(20);
    expect(sent).toHaveLength(14);
    expect(received[0]?.text).toBe('je te comprend');
    expect(msgs.slice(-2).map((e) => [e.side, e.text])).toEqual([
      ['s2c', 'bye'],
      ['c2s', 'bye!'],
    ]);
    for (const m of received) expect([m.account, m.peer]).toEqual([J, C]);
    // Stream 0 has only client packets (no USR/ANS seen): the account is unknown there.
    // ...so that one message (MSG 88 N 359) has neither account nor peer.
    const blind = sent.filter((m) => m.conn === 'tcp-0');
    expect(blind.map((m) => [m.account, m.peer])).toEqual([[undefined, undefined]]);
    for (const m of sent.filter((x) => x.conn !== 'tcp-0')) expect([m.account, m.peer]).toEqual([J, C]);
    // Logins: the switchboard ANS/USR answers, all as jujurius.
    const logins = r.events.filter((e) => e.kind === 'login');
    expect(logins.map((l) => [l.conn, l.account, l.detail?.command])).toEqual([
      ['tcp-2', J, 'ANS'],
      ['tcp-3', J, 'ANS'],
      ['tcp-4', J, 'ANS'],
      ['tcp-5', J, 'USR'],
    ]);
    // Typing notifications are not messages; nothing is a file.
    expect(r.events.filter((e) => e.kind === 'file')).toHaveLength(0);
    for (const c of r.connections.filter((x) => x.protocol === 'msnp')) expect(c.closed).not.toMatch(/^msnp:/);
  });

  it('blocking and redacting the real conversation', async () => {
    const r = await replayCapture(CHRIS, {
      modules: [msnpModule],
      decide: (ev) => (ev.text?.includes('hacking') ? { action: 'block', rule: 'no-hacking' } : ev.text === 'Hey Brian' ? { action: 'redact', rule: 'mask' } : { action: 'allow', rule: 'default' }),
      redact: () => '****',
    });
    const conn = r.connections.find((c) => c.protocol === 'msnp');
    expect(conn).toBeDefined();
    if (conn === undefined) return;
    // The inbound 'hacking' MSG (182 bytes of payload + its line) is dropped;
    // the redacted one shrinks by 'Hey Brian'.length - 4 and its length is fixed.
    const droppedLine = 'MSG tesla_thomas@hotmail.com Thomas 182\r\n'.length;
    expect(conn.bytes.s2c - conn.forwarded.s2c).toBe(droppedLine + 182);
    expect(conn.bytes.c2s - conn.forwarded.c2s).toBe('132'.length - '127'.length + 'Hey Brian'.length - 4);
    expect(conn.injected).toEqual({ c2s: 0, s2c: 0 });
  });

  it('truncated and garbled copies of the capture: no throw, the events are a prefix of the real ones', async () => {
    const full = (await replayCapture(CHRIS, { modules: [msnpModule] })).events.map(brief);
    const bytes = readFileSync(CHRIS);
    const dir = mkdtempSync(join(tmpdir(), 'msnp-replay-'));
    try {
      for (const cut of [100, 1000, 2500, 4000, 5500, bytes.length - 7]) {
        const f = join(dir, `t${cut}.pcap`);
        writeFileSync(f, bytes.subarray(0, cut));
        const ev = (await replayCapture(f, { modules: [msnpModule] })).events.map(brief);
        expect(ev).toEqual(full.slice(0, ev.length));
      }
      // Garbled: every 97th byte flipped; anything may be lost, nothing may throw.
      const g = Buffer.from(bytes);
      for (let i = 24; i < g.length; i += 97) g[i] = (g[i] as number) ^ 0x5a;
      const f = join(dir, 'garbled.pcap');
      writeFileSync(f, g);
      await expect(replayCapture(f, { modules: [msnpModule] }).catch((e: Error) => e.name)).resolves.toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
