// RFC 5424 syslog lines for a SIEM: one per event, the event's fields as
// structured data (SD-ID imgate@32473: the documentation enterprise number),
// sent over UDP (one datagram each) or TCP with octet-counting framing (RFC 6587).
import { createSocket } from 'node:dgram';
import { hostname } from 'node:os';
import { connect, type Socket } from 'node:net';
import type { EventRow } from './types';

const SD_ID = 'imgate@32473';
/** Longest text put in one syslog message (UDP datagrams must stay well under 64 KiB). */
const TEXT_MAX = 4096;
const FACILITY_LOCAL0 = 16;

/** Escapes a PARAM-VALUE (RFC 5424 6.3.3) and blanks control characters. */
function sdValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, ' ');
}

/** NILVALUE for empty header fields, printable US-ASCII otherwise (RFC 5424 6.2). */
function headerField(v: string, max: number): string {
  const t = v.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return t === '' ? '-' : t;
}

export function syslogLine(e: EventRow, host = hostname()): string {
  const severity = e.action === 'block' ? 4 : 6; // warning for blocks, info otherwise
  const pri = FACILITY_LOCAL0 * 8 + severity;
  const fields: Array<[string, string | number | null]> = [
    ['id', e.id], ['conn', e.conn], ['door', e.door], ['client', e.client_ip], ['user', e.user],
    ['protocol', e.protocol], ['app', e.app], ['direction', e.direction], ['account', e.account], ['peer', e.peer],
    ['kind', e.kind], ['action', e.action], ['rule', e.rule], ['file_name', e.file_name], ['file_size', e.file_size],
    ['file_sha256', e.file_sha256], ['url', e.url], ['host', e.host], ['destination', e.destination],
    ['text', e.text === null ? null : e.text.slice(0, TEXT_MAX)],
  ];
  const params = fields
    .filter((f): f is [string, string | number] => f[1] !== null)
    .map(([k, v]) => `${k}="${sdValue(String(v))}"`)
    .join(' ');
  const msg = `${e.kind} ${e.action ?? '-'} ${e.user ?? e.client_ip ?? '-'} ${e.protocol ?? '-'} ${e.account ?? '-'} -> ${e.peer ?? '-'}`;
  return `<${pri}>1 ${new Date(e.time).toISOString()} ${headerField(host, 255)} imgate - ${headerField(e.kind, 32)} [${SD_ID} ${params}] ${sdValue(msg)}`;
}

export interface SyslogTarget {
  proto: 'udp' | 'tcp';
  host: string;
  port: number;
}

export function parseSyslogTarget(s: string): SyslogTarget {
  const m = /^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})\/?$/.exec(s);
  if (!m || Number(m[3]) > 65535) throw new Error(`bad syslog target "${s}": expected udp://HOST:PORT or tcp://HOST:PORT`);
  return { proto: m[1] as 'udp' | 'tcp', host: (m[2] as string).replace(/^\[|\]$/g, ''), port: Number(m[3]) };
}

/** Sends lines in order; resolves when all are handed to the kernel (TCP: flushed and closed). */
export async function sendSyslog(target: SyslogTarget, lines: Iterable<string> | AsyncIterable<string>): Promise<number> {
  let n = 0;
  if (target.proto === 'udp') {
    const sock = createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
    try {
      for await (const l of lines) {
        await new Promise<void>((res, rej) => sock.send(Buffer.from(l, 'utf8'), target.port, target.host, (err) => (err ? rej(err) : res())));
        n++;
      }
    } finally {
      sock.close();
    }
    return n;
  }
  const sock: Socket = await new Promise((res, rej) => {
    const s = connect({ host: target.host, port: target.port }, () => res(s));
    s.once('error', rej);
  });
  for await (const l of lines) {
    const b = Buffer.from(l, 'utf8');
    if (!sock.write(`${b.length} `) || !sock.write(b)) await new Promise<void>((res) => sock.once('drain', () => res()));
    n++;
  }
  await new Promise<void>((res) => sock.end(() => res()));
  return n;
}
