// Test-only stand-in for src/replay's replayCapture (not there yet): reads a
// capture with src/replay's reader and decoder, reassembles each TCP flow
// per direction (retransmissions trimmed, out-of-order segments held), and
// feeds the IRC flows to real IrcSessions in capture order, with an
// allow-all policy unless told otherwise. Flows that are not IRC are
// returned with their endpoints so tests can check DCC correlation.
import { readCapture } from '../../../../src/replay/reader';
import { decodePacket, TCP_ACK, TCP_SYN, type TcpSegment } from '../../../../src/replay/decode';
import { probeIrc } from '../../../../src/protocols/irc';
import type { ProbeResult, Side } from '../../../../src/protocols/types';
import { Harness } from './harness';

interface Dir {
  next: number | null;
  held: Map<number, Buffer>;
}

export interface Flow {
  client: { host: string; port: number };
  server: { host: string; port: number };
  /** c2s/s2c bytes as delivered in order. */
  bytes: Record<Side, Buffer[]>;
  probe: ProbeResult;
  harness: Harness | null;
  heads: Record<Side, Buffer>;
  dirs: Record<Side, Dir>;
}

const key = (a: string, ap: number, b: string, bp: number): string => (a < b || (a === b && ap < bp) ? `${a}:${ap}-${b}:${bp}` : `${b}:${bp}-${a}:${ap}`);

export async function replayIrc(file: string, policy?: object): Promise<Flow[]> {
  const flows = new Map<string, Flow>();
  const order: Flow[] = [];

  const deliver = (f: Flow, side: Side, data: Buffer): void => {
    if (data.length === 0) return;
    const copy = Buffer.from(data);
    f.bytes[side].push(copy);
    if (f.harness !== null) {
      (side === 'c2s' ? f.harness.client(copy) : f.harness.server(copy));
      return;
    }
    if (f.probe !== 'more') return;
    f.heads[side] = Buffer.concat([f.heads[side], copy]);
    const r = probeIrc(side, f.heads[side]);
    if (r === 'match') {
      f.probe = 'match';
      f.harness = new Harness(policy ?? { default: 'allow', rules: [] });
      // Replay what came before the decision, in the order it came.
      for (const s of ['c2s', 's2c'] as const) if (f.heads[s].length > 0) s === 'c2s' ? f.harness.client(f.heads[s]) : f.harness.server(f.heads[s]);
    } else if (r === 'no' && side === 'c2s') f.probe = 'no';
  };

  const onSegment = (seg: TcpSegment): void => {
    const k = key(seg.src, seg.srcPort, seg.dst, seg.dstPort);
    let f = flows.get(k);
    if (f === undefined) {
      // The SYN's sender is the client; without one, the higher port is.
      const synFromSrc = (seg.flags & TCP_SYN) !== 0 && (seg.flags & TCP_ACK) === 0;
      const synAckFromSrc = (seg.flags & TCP_SYN) !== 0 && (seg.flags & TCP_ACK) !== 0;
      const srcIsClient = synFromSrc || (!synAckFromSrc && seg.srcPort > seg.dstPort);
      const a = { host: seg.src, port: seg.srcPort };
      const b = { host: seg.dst, port: seg.dstPort };
      f = {
        client: srcIsClient ? a : b,
        server: srcIsClient ? b : a,
        bytes: { c2s: [], s2c: [] },
        probe: 'more',
        harness: null,
        heads: { c2s: Buffer.alloc(0), s2c: Buffer.alloc(0) },
        dirs: { c2s: { next: null, held: new Map() }, s2c: { next: null, held: new Map() } },
      };
      flows.set(k, f);
      order.push(f);
    }
    const side: Side = seg.src === f.client.host && seg.srcPort === f.client.port ? 'c2s' : 's2c';
    const d = f.dirs[side];
    if ((seg.flags & TCP_SYN) !== 0) {
      d.next = (seg.seq + 1) >>> 0;
      return;
    }
    if (seg.payload.length === 0) return;
    if (d.next === null) d.next = seg.seq;
    let seq = seg.seq;
    let payload = seg.payload;
    const behind = (d.next - seq) | 0;
    if (behind > 0) {
      if (behind >= payload.length) return; // pure retransmission
      payload = payload.subarray(behind);
      seq = d.next;
    }
    if (seq !== d.next) {
      d.held.set(seq, Buffer.from(payload));
      return;
    }
    deliver(f, side, payload);
    d.next = (d.next + payload.length) >>> 0;
    for (let h = d.held.get(d.next); h !== undefined; h = d.held.get(d.next)) {
      d.held.delete(d.next);
      deliver(f, side, h);
      d.next = (d.next + h.length) >>> 0;
    }
  };

  await readCapture(file, {
    packet(p) {
      const dec = decodePacket(p);
      if (dec.kind === 'tcp') onSegment(dec.seg);
    },
    warn() {},
  });
  for (const f of order) {
    if (f.harness !== null) {
      f.harness.session.end('c2s');
      f.harness.session.end('s2c');
    }
  }
  return order;
}
