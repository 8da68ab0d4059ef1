// imgate's capture replayer: reads a pcap/pcapng file, reassembles its TCP
// connections and drives each through the protocol modules exactly as the
// live relay would (probe, then session), collecting the IM events with the
// verdicts `decide` gives them. This is the proof path for protocols that
// have no live server to test against.
import type { Verdict } from '../events/types';
import type { InspectOptions } from '../protocols/types';
import { DEFAULT_REPLAY_LIMITS, type ReplayConnSummary, type ReplayEvent, type ReplayOptions, type ReplayResult, type ReplayStats } from './api';
import { ConnectionTable } from './connections';
import { decodePacket } from './decode';
import { readCapture } from './reader';
import { ReplayClock, ReplaySession, WarningList } from './session';
import { CaptureFormatError, type CapturePacket } from './types';

export * from './api';
export { CaptureFormatError, type CapturePacket, type CaptureSink } from './types';
export { CaptureParser, readCapture } from './reader';
export { decodePacket, type TcpSegment, type Decoded } from './decode';

const ALLOW_ALL: Verdict = Object.freeze({ action: 'allow', rule: 'default' }) as Verdict;
const DEFAULT_OPTIONS: InspectOptions = { starttls: 'pass', maxUnitBytes: 1_048_576 };

/** Per-kind warnings reported individually before they are only counted. */
const DETAIL_WARNINGS = 20;

export async function replayCapture(file: string, opts: ReplayOptions): Promise<ReplayResult> {
  const limits = { ...DEFAULT_REPLAY_LIMITS, ...opts.limits };
  const warnings = new WarningList(limits.maxWarnings);
  const events: ReplayEvent[] = [];
  const connections: ReplayConnSummary[] = [];
  const clock = new ReplayClock();
  const stats: ReplayStats = {
    format: null,
    frames: 0,
    tcpSegments: 0,
    udpPackets: 0,
    ipFragments: 0,
    otherPackets: 0,
    malformedPackets: 0,
    evictedConnections: 0,
    peakHeldBytes: 0,
    peakConnections: 0,
  };
  const env = {
    modules: opts.modules,
    decide: opts.decide ?? (() => ALLOW_ALL),
    redact: opts.redact ?? (() => '****'),
    options: { ...DEFAULT_OPTIONS, ...opts.options },
    limits,
    clock,
    warnings,
    events,
    done: (s: ReplayConnSummary) => connections.push(s),
  };
  const table = new ConnectionTable(
    { open: (conn) => new ReplaySession(conn, env), warn: (m) => warnings.add(m) },
    { maxConnections: limits.maxConnections, maxOooBytes: limits.maxOooBytes, maxOooSegments: limits.maxOooSegments },
  );

  const packet = (p: CapturePacket): void => {
    stats.frames++;
    // SPBs carry no timestamp: keep the previous packet's time.
    if (p.sec !== 0 || p.nsec !== 0) {
      clock.sec = p.sec;
      clock.nsec = p.nsec;
    }
    const d = decodePacket(p);
    switch (d.kind) {
      case 'tcp':
        stats.tcpSegments++;
        table.segment(d.seg);
        return;
      case 'udp':
        stats.udpPackets++;
        return;
      case 'fragment':
        if (stats.ipFragments++ < DETAIL_WARNINGS) warnings.add(`frame ${p.frame} (offset ${p.offset}): IP fragment ignored`);
        return;
      case 'malformed':
        if (stats.malformedPackets++ < DETAIL_WARNINGS) warnings.add(`frame ${p.frame} (offset ${p.offset}): ${d.why}: skipped`);
        return;
      default:
        stats.otherPackets++;
    }
  };

  try {
    stats.format = await readCapture(file, { packet, warn: (m) => warnings.add(`${file}: ${m}`) }, limits);
  } catch (err) {
    // Not a capture at all: that is the caller's mistake, not damage to report.
    if (!(err instanceof CaptureFormatError) || err.offset === 0) throw err;
    warnings.add(`${err.message}; stopped reading after ${stats.frames} frames`);
  }
  table.finishAll();

  stats.evictedConnections = table.evicted;
  stats.peakHeldBytes = table.peakHeld;
  stats.peakConnections = table.peakLive;
  if (stats.ipFragments > 0) warnings.add(`${stats.ipFragments} IP fragments ignored (IP reassembly is not done)`);
  if (stats.malformedPackets > DETAIL_WARNINGS) warnings.add(`${stats.malformedPackets} malformed packets skipped in all`);
  if (stats.evictedConnections > 0) warnings.add(`${stats.evictedConnections} live connections evicted (limit ${limits.maxConnections})`);
  if (warnings.suppressed > 0) warnings.list.push(`${warnings.suppressed} more warnings suppressed`);

  connections.sort((a, b) => connNumber(a.conn) - connNumber(b.conn));
  return { events, connections, warnings: warnings.list, stats };
}

const connNumber = (id: string): number => Number(id.slice(4));
